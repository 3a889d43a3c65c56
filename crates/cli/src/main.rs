//! `commonground`: a headless Common Ground node.
//!
//! The same engine as the desktop app (`commonground-node`), driven from a terminal or a
//! script: create a workshop, run commands from the shared contract as JSON, show the
//! workshop in plain English, check on the stored workshops.
//!
//! Every failure is one plain-English line on stderr (for `exec`, one JSON `{kind, message}`
//! line) and a non-zero exit status; inputs are checked before anything is written.

mod args;
mod exec;
mod export;
mod live;
mod net;
mod select;
mod show;
mod status;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use commonground_api::{ApiError, Command};
use commonground_node::{Node, NodeError};
use commonground_workshop::{random_actor, NewWorkshop, Timestamp, Workshop};

use crate::args::{Cli, Sub};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return args::usage_error(e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("commonground: couldn't start ({e}).");
            return ExitCode::FAILURE;
        }
    };
    let json_errors = matches!(cli.command, Sub::Exec { .. });
    let networked = matches!(cli.command, Sub::Serve { .. } | Sub::Invite { .. } | Sub::Join { .. });
    // Logs go to stderr: laptops and workshops by id, never names or note text. samod's own
    // progress messages are for debugging it, not for people running a node.
    {
        use std::io::IsTerminal;
        use tracing_subscriber::prelude::*;
        let level = if networked { tracing::Level::INFO } else { tracing::Level::WARN };
        let filter = tracing_subscriber::filter::Targets::new()
            .with_default(level)
            .with_target("samod", tracing::Level::WARN)
            .with_target("samod_core", tracing::Level::WARN);
        let logs = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal());
        tracing_subscriber::registry().with(logs).with(filter).init();
    }
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            let message = one_line(&e.to_string());
            if json_errors {
                let kind = match (e.downcast_ref::<ApiError>(), e.downcast_ref::<NodeError>()) {
                    (Some(api), _) => api.kind.clone(),
                    (None, Some(node)) => node.kind().to_owned(),
                    (None, None) => "error".to_owned(),
                };
                eprintln!("{}", error_json(&kind, &message));
            } else {
                eprintln!("commonground: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let data = match cli.data {
        Some(dir) => dir,
        None => Node::default_data_dir()?,
    };
    match cli.command {
        Sub::New { title, name, purpose, colour } => {
            let new = NewWorkshop {
                title,
                purpose: purpose.unwrap_or_default(),
                facilitator_name: name,
                facilitator_colour: colour.0,
                ground_rules: None,
            };
            check_new_workshop(&new)?;
            let node = Node::open(&data).await?;
            let created = async {
                let id = node.create_workshop(new).await?;
                let invite = node.invite(id).await.map_err(net::net_error)?;
                anyhow::Ok((id, invite))
            }
            .await;
            node.close().await;
            let (id, invite) = created?;
            println!("{id}");
            println!("{}", invite.link);
            Ok(ExitCode::SUCCESS)
        }
        Sub::Invite { workshop, qr, listen } => {
            let node = open_existing(&data).await?;
            let id = select::workshop(&node, &workshop)?;
            let result = net::invite(&node, id, listen, qr).await;
            if matches!(result, Ok(true)) {
                live::Live::record_arrival(&node, id);
            }
            node.close().await;
            result.map(|_| ExitCode::SUCCESS)
        }
        Sub::Join { invite, name, address, colour } => {
            let with = net::check_join(&invite, &name, address)?;
            let node = Node::open(&data).await?;
            let result = net::join(&node, with, &name, colour.0).await;
            if let Ok(id) = &result {
                live::Live::record_arrival(&node, *id);
            }
            node.close().await;
            println!("{}", result?);
            Ok(ExitCode::SUCCESS)
        }
        Sub::Serve { listen, connect, no_mdns, no_beacon, beacon_port, exec, web, folder } => {
            // With the page open, an empty laptop is fine: its person starts or joins a
            // workshop there. Without it there would be nothing to serve.
            if web.is_none() {
                ensure_workshops(&data)?;
            }
            let methods = commonground_app::Methods { mdns: !no_mdns, beacon: !no_beacon, beacon_port };
            net::serve(&data, net::ServeOptions { listen, connect, methods, web, exec, folder }).await?;
            Ok(ExitCode::SUCCESS)
        }
        Sub::Exec { workshop, command } => {
            let commands = exec::parse(&command)?;
            let node = open_existing(&data).await?;
            let id = select::workshop(&node, &workshop)?;
            let ok = exec::run(&node, id, commands).await;
            node.close().await;
            Ok(if ok? { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Sub::Show { workshop, json } => {
            let node = open_existing(&data).await?;
            let id = select::workshop(&node, &workshop)?;
            let snapshot = node.with_service(id, |service| service.snapshot()).await;
            node.close().await;
            let snapshot = snapshot?;
            let text = if json { serde_json::to_string_pretty(&snapshot)? } else { show::render(&snapshot) };
            print_out(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Sub::Status => {
            if !data.exists() {
                print_out(&status::nothing_here(&data))?;
                return Ok(ExitCode::SUCCESS);
            }
            let live = live::Live::read(&data);
            let node = match Node::open(&data).await {
                Ok(node) => node,
                // A running `serve` has the folder open: report what it last wrote.
                Err(NodeError::Locked { .. }) if live.as_ref().is_some_and(|l| l.running) => {
                    print_out(&status::report_running(&data, live.as_ref().expect("checked")))?;
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => return Err(e.into()),
            };
            let report = status::report(&node, live.as_ref()).await;
            node.close().await;
            print_out(&report)?;
            Ok(ExitCode::SUCCESS)
        }
        Sub::Export { workshop, format, output } => {
            export::check_output(&output)?;
            let node = open_existing(&data).await?;
            let id = select::workshop(&node, &workshop)?;
            let doc = node
                .with_service(id, |service| commonground_export::ValuesDocument::build(service.workshop()))
                .await;
            node.close().await;
            export::save(&doc?, format, &output)?;
            Ok(ExitCode::SUCCESS)
        }
        Sub::Render { format, output } => {
            if let Some(output) = &output {
                export::check_output(output)?;
            }
            export::render_stdin(format, output.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Sub::RemoveParticipant { workshop, participant } => {
            let node = open_existing(&data).await?;
            let id = select::workshop(&node, &workshop)?;
            let result = remove_participant(&node, id, &participant).await;
            node.close().await;
            println!("{}", result?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Checks a new workshop's title, purpose and facilitator in memory, so that nothing is
/// written for a workshop that would be refused.
fn check_new_workshop(new: &NewWorkshop) -> anyhow::Result<()> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::from_os_rng();
    Workshop::create(random_actor(&mut rng), Timestamp(0), &mut rng, new.clone())
        .map(drop)
        .map_err(|e| anyhow::anyhow!(e.to_string()))
}

/// Opens the node on a data folder that must already hold workshops: a command that only
/// reads or changes existing workshops never creates the folder.
async fn open_existing(data: &Path) -> anyhow::Result<Node> {
    ensure_workshops(data)?;
    Ok(Node::open(data).await?)
}

fn ensure_workshops(data: &Path) -> anyhow::Result<()> {
    if !data.join("workshops").is_dir() {
        return Err(select::refuse(
            "workshop_not_found",
            format!(
                "There are no workshops on this laptop yet (in {}). Create one with `commonground new`.",
                data.display()
            ),
        ));
    }
    Ok(())
}

async fn remove_participant(
    node: &Node,
    id: commonground_workshop::WorkshopId,
    who: &str,
) -> anyhow::Result<String> {
    let people = node.with_service(id, |s| s.workshop().participants()).await?;
    let person = select::participant(&people, who)?;
    let done = exec::dispatch(node, id, Command::RemoveParticipant { participant: person.id }).await?;
    done.reply.map_err(anyhow::Error::new)?;
    Ok(format!("{} has been removed from the workshop.", person.name))
}

/// Writes to stdout, treating a closed pipe (`| head`) as success rather than a panic.
fn print_out(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{}", text.trim_end()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("couldn't write the output"),
    }
}

/// An error as the one JSON line `exec` prints on stderr.
fn error_json(kind: &str, message: &str) -> String {
    serde_json::to_string(&ApiError::new(kind, message))
        .unwrap_or_else(|_| format!("{{\"kind\":\"error\",\"message\":{message:?}}}"))
}

/// Folds a message onto one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
