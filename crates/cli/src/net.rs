//! The commands that talk to other laptops: `invite`, `join` and `serve`.
//!
//! A code join needs the facilitator's address (typed, as shown beside the code): laptops
//! announce themselves only with tags that members of a workshop can recognise, so a laptop
//! that isn't a member yet can't tell the facilitator's laptop from anyone else's.
//!
//! Logs go to stderr and say which workshop and which laptop (a key fingerprint), never who:
//! no names and no note text.

use std::io::{BufRead, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use commonground_app::{App, AppConfig, AppError, Methods};
use commonground_node::{local_addresses, NetError, Node, NodeEvent, ServeHandle};
use commonground_protocol::{Invite, JoinCode};
use commonground_workshop::{Colour, FirstName, WorkshopId};
use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::select::refuse;

/// Where `serve` and `invite` listen unless told otherwise.
pub(crate) const DEFAULT_LISTEN: &str = "0.0.0.0:41235";

/// A network error as the CLI reports it (kind and message kept for `{kind, message}`).
pub(crate) fn net_error(e: NetError) -> anyhow::Error {
    let api = e.to_api_error();
    refuse(&api.kind, api.message)
}

/// Starts listening, and when bound to every interface, puts this laptop's own addresses in
/// invites (`0.0.0.0` can't be dialled).
async fn listen(node: &Node, listen: SocketAddr) -> anyhow::Result<ServeHandle> {
    let handle = node.serve(listen).await.map_err(net_error)?;
    let bound = handle.local_addr();
    if bound.ip().is_unspecified() {
        node.set_advertised_addresses(reachable(local_addresses(bound.port())));
    }
    Ok(handle)
}

/// The addresses other laptops can dial: loopback only when there is nothing else (another
/// laptop dialling 127.0.0.1 reaches itself).
fn reachable(mut addresses: Vec<SocketAddr>) -> Vec<SocketAddr> {
    if addresses.iter().any(|a| !a.ip().is_loopback()) {
        addresses.retain(|a| !a.ip().is_loopback());
    }
    addresses
}

/// `invite`: shows the link, the 6-digit code and (with `--qr`) a QR code, then lets people
/// join until the code expires or Ctrl-C. `true` if changes to the workshop arrived meanwhile
/// (someone joined).
pub(crate) async fn invite(node: &Node, id: WorkshopId, at: SocketAddr, qr: bool) -> anyhow::Result<bool> {
    let _listening = listen(node, at).await?;
    let mut events = node.events();
    let info = node.invite(id).await.map_err(net_error)?;
    let addresses: Vec<String> = info.addresses.iter().map(ToString::to_string).collect();
    let minutes =
        info.expires_at.duration_since(SystemTime::now()).unwrap_or_default().as_secs().div_ceil(60);
    println!(
        "Invite link (it lets anyone who has it into the workshop: show it only to people in the room):"
    );
    println!("{}", info.link);
    println!(
        "Code: {} (works for the next {minutes} {}; join with it at {})",
        info.code,
        if minutes == 1 { "minute" } else { "minutes" },
        if addresses.is_empty() { "this laptop's address".to_owned() } else { addresses.join(" or ") }
    );
    if qr {
        let code = QrCode::new(info.link.as_bytes()).context("couldn't make a QR code of the link")?;
        let picture =
            code.render::<Dense1x2>().dark_color(Dense1x2::Light).light_color(Dense1x2::Dark).build();
        println!("{picture}");
    }
    let interrupted = interrupted();
    println!("Waiting for people to join. Press Ctrl-C to stop.");
    let remaining = info.expires_at.duration_since(SystemTime::now()).unwrap_or_default();
    let expired = tokio::time::sleep(remaining);
    tokio::pin!(expired);
    tokio::pin!(interrupted);
    let mut arrived = false;
    loop {
        tokio::select! {
            () = &mut interrupted => break,
            () = &mut expired => {
                println!("The code has expired. Run `commonground invite` again for a new one.");
                break;
            }
            event = events.recv() => match event {
                Ok(event) => arrived |= invite_event(&event, id, arrived),
                Err(RecvError::Lagged(_)) => arrived = true,
                Err(RecvError::Closed) => break,
            },
        }
    }
    // Events already sent when the loop ended (Ctrl-C just after someone joined) still count.
    while let Ok(event) = events.try_recv() {
        arrived |= invite_event(&event, id, arrived);
    }
    Ok(arrived)
}

/// Logs an event seen while `invite` runs; `true` if it is a change to `workshop` from another
/// laptop (someone joining), which is also logged the first time (`arrived` still false).
fn invite_event(event: &NodeEvent, workshop: WorkshopId, arrived: bool) -> bool {
    log_event(event);
    let change = matches!(event, NodeEvent::View { workshop: w, .. } if *w == workshop);
    if change && !arrived {
        tracing::info!(%workshop, "changes arrived from another laptop: someone joined");
    }
    change
}

/// What `join` was given: an invite link, or a code and the address it is shown at.
pub(crate) enum JoinWith {
    Link(String),
    Code(String, SocketAddr),
}

/// Checks `join`'s inputs before anything is opened or written.
pub(crate) fn check_join(invite: &str, name: &str, address: Option<SocketAddr>) -> anyhow::Result<JoinWith> {
    FirstName::parse(name).map_err(|e| refuse("name", e.to_string()))?;
    let invite = invite.trim();
    if invite.starts_with("commonground:") {
        Invite::from_link(invite).map_err(|e| refuse(e.kind(), e.to_string()))?;
        return Ok(JoinWith::Link(invite.to_owned()));
    }
    match JoinCode::parse(invite) {
        Ok(_) => match address {
            Some(address) => Ok(JoinWith::Code(invite.to_owned(), address)),
            None => Err(refuse(
                "address_needed",
                "To join with a code, also give the address shown with it on the facilitator's laptop, \
                 e.g. --address 192.168.1.20:41235.",
            )),
        },
        Err(_) => Err(refuse(
            "bad_invite",
            "That isn't an invite link (commonground://join/…) or a 6-digit code. Please check it and try again.",
        )),
    }
}

/// `join`: joins, then stays a moment so the first exchange with the facilitator's laptop
/// (which carries this join to it) can finish.
pub(crate) async fn join(
    node: &Node,
    with: JoinWith,
    name: &str,
    colour: Colour,
) -> anyhow::Result<WorkshopId> {
    let id = match with {
        JoinWith::Link(link) => node.join_by_link(&link, name, colour).await,
        JoinWith::Code(code, address) => node.join_by_code(address, &code, name, colour).await,
    }
    .map_err(net_error)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(id)
}

/// What `serve` was asked to do.
pub(crate) struct ServeOptions {
    pub listen: SocketAddr,
    pub connect: Vec<SocketAddr>,
    pub methods: Methods,
    /// Open the web front door for phones and tablets here (`--web`).
    pub web: Option<SocketAddr>,
    /// Run commands for this workshop from standard input (`--exec`).
    pub exec: Option<String>,
    /// Also sync through this shared folder (`--folder`).
    pub folder: Option<std::path::PathBuf>,
}

/// `serve`: listens, finds the workshops' other laptops nearby and keeps connections to them,
/// to the given addresses and to the addresses where they were seen before, and syncs until
/// Ctrl-C, logging laptops coming and going and changes arriving. All of that is the app's
/// (the desktop app runs the same); this adds the status file, the logs and `--exec`.
pub(crate) async fn serve(data: &Path, options: ServeOptions) -> anyhow::Result<()> {
    let config = AppConfig {
        data_dir: data.to_owned(),
        listen: options.listen,
        web: options.web,
        methods: options.methods,
        connect: options.connect,
        ui: None,
        folder: options.folder,
    };
    let app = App::start(config).await.map_err(app_error)?;
    let result = serve_with(&app, options.exec).await;
    app.close().await;
    result
}

async fn serve_with(app: &App, exec: Option<String>) -> anyhow::Result<()> {
    let node = app.node();
    let exec = match exec {
        Some(typed) => Some(crate::select::workshop(node, &typed)?),
        None => None,
    };
    let mut events = node.events();
    let workshops: Vec<WorkshopId> =
        node.list_workshops().into_iter().filter(|&w| node.key_epoch(w).is_some()).collect();
    // The app starts dialling before this listens for events: laptops already connected are
    // logged as the events would have.
    for &workshop in &workshops {
        for peer in node.peers(workshop) {
            log_event(&NodeEvent::PeerJoined { workshop, peer });
        }
    }
    let listening = app.listen_address().map(|a| a.to_string()).unwrap_or_default();
    if let Some(web) = app.web_address() {
        // On stdout, for people and scripts: where phones and this laptop's browser go.
        println!("web: http://{web}/");
        if let Some(url) = app.owner_url() {
            println!("this laptop: {url}");
        }
        for &workshop in &workshops {
            if let Some(url) = app.phone_url(workshop) {
                println!("phones for {workshop}: {url}");
            }
        }
        let _ = std::io::Write::flush(&mut std::io::stdout());
    }
    let mut commands = exec.map(|workshop| (workshop, stdin_lines()));
    let interrupted = interrupted();
    tracing::info!(workshops = workshops.len(), "serving; press Ctrl-C to stop");
    let mut changes: std::collections::BTreeMap<WorkshopId, usize> = Default::default();
    let mut live = crate::live::Live::new(node.data_dir(), vec![listening]);
    live.refresh(node, &workshops);
    live.write(node.data_dir());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            () = &mut interrupted => break,
            _ = tick.tick() => {
                // Changes are counted and logged once a second: one sync can carry thousands.
                for (workshop, count) in std::mem::take(&mut changes) {
                    tracing::info!(%workshop, updates = count, "changes arrived from other laptops");
                    live.changed(workshop);
                }
                live.refresh(node, &workshops);
                live.write(node.data_dir());
            }
            line = next_line(&mut commands) => match line {
                Some((workshop, line)) => {
                    let answer = crate::exec::run_line(app, workshop, &line).await;
                    println!("{answer}");
                }
                None => {
                    tracing::debug!("standard input closed; serving on");
                    commands = None;
                }
            },
            event = events.recv() => match event {
                Ok(NodeEvent::View { workshop, .. }) => *changes.entry(workshop).or_default() += 1,
                Ok(event) => log_event(&event),
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "fell behind the node's events");
                }
                Err(RecvError::Closed) => break,
            },
        }
    }
    tracing::info!("stopping");
    live.running = false;
    live.refresh(node, &workshops);
    live.write(node.data_dir());
    Ok(())
}

fn app_error(e: AppError) -> anyhow::Error {
    match e {
        AppError::Net(e) => net_error(e),
        AppError::Node(e) => anyhow::Error::new(e),
        other => refuse("web", other.to_string()),
    }
}

/// Resolves at Ctrl-C (SIGINT). One future for the whole loop: a new `ctrl_c()` on every
/// turn would miss a signal arriving while the loop is busy.
/// Ctrl-C, watched from this call on (not from the future's first poll): a Ctrl-C that comes
/// as soon as "press Ctrl-C" is shown then stops the command cleanly, instead of killing it.
fn interrupted() -> impl std::future::Future<Output = ()> {
    let watch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    async move {
        match watch {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "can't watch for Ctrl-C; stop this with a signal instead");
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The longest command line `serve --exec` reads (as `exec -`'s whole input).
const MAX_LINE: u64 = 16 * 1024 * 1024;

/// Lines from standard input, read on a thread of their own: a blocking read inside the
/// runtime would hold up its shutdown until the next line arrived.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut line = Vec::new();
            match (&mut stdin).take(MAX_LINE + 1).read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = if line.len() as u64 > MAX_LINE {
                // Answered as a command that doesn't parse; the rest of the line is skipped.
                let _ = stdin.skip_until(b'\n');
                "(a line longer than 16 MB)".to_owned()
            } else {
                String::from_utf8_lossy(&line).trim().to_owned()
            };
            if text.is_empty() {
                continue;
            }
            if tx.blocking_send(text).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next command line for `serve --exec`, and its workshop; `None` once standard input
/// has closed. Never resolves without `--exec`.
async fn next_line(
    commands: &mut Option<(WorkshopId, mpsc::Receiver<String>)>,
) -> Option<(WorkshopId, String)> {
    match commands {
        Some((workshop, lines)) => lines.recv().await.map(|line| (*workshop, line)),
        None => std::future::pending().await,
    }
}

fn log_event(event: &NodeEvent) {
    match event {
        NodeEvent::PeerJoined { workshop, peer } => {
            tracing::info!(%workshop, laptop = %peer.fingerprint, address = %peer.address, "a laptop connected");
        }
        NodeEvent::PeerLeft { workshop, peer } => {
            tracing::info!(%workshop, laptop = %peer.fingerprint, address = %peer.address, "a laptop disconnected");
        }
        NodeEvent::SyncStatus { workshop, status } => match &status.problem {
            None => tracing::info!(%workshop, laptops = status.peers, "syncing"),
            Some(problem) => {
                tracing::warn!(%workshop, laptops = status.peers, ?problem, "can't reach a laptop")
            }
        },
        NodeEvent::View { workshop, .. } => tracing::debug!(%workshop, "a change arrived"),
        _ => {}
    }
}
