//! Keeping links healthy: remembered addresses, keepalive over a link that goes silent, and
//! one channel per pair of laptops when both dial.

mod net_support;
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use commonground_node::{Node, ServeConfig};
use commonground_workshop::Colour;
use net_support::*;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WITHIN: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_laptop_that_joined_by_link_remembers_where_the_facilitator_is() {
    let (a, _da, id, serving) = facilitator().await;
    let invite = a.invite(id).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let b = Node::open(&data).await.unwrap();
    b.join_by_link(&invite.link, "Ben", Colour::Sky).await.unwrap();
    assert_eq!(b.known_addresses(id), vec![serving.local_addr()]);
    converge(&[&a, &b], id, WITHIN).await;
    b.close().await;
    eventually("A to notice B going", WITHIN, || async { a.peers(id).is_empty() }).await;

    // Restarted, with no address given and no discovery: the remembered one is enough.
    let b = Node::open(&data).await.unwrap();
    assert_eq!(b.known_addresses(id), vec![serving.local_addr()]);
    for address in b.known_addresses(id) {
        b.connect(id, address).await.unwrap();
    }
    eventually("B to reconnect", WITHIN, || async { b.peers(id).len() == 1 && a.peers(id).len() == 1 }).await;
    let prompt = first_prompt(&a, id).await;
    let note = add_note(&a, id, prompt, "after the restart", false).await;
    converge(&[&a, &b], id, WITHIN).await;
    assert!(notes(&snapshot(&b, id).await).iter().any(|n| n.id == note));
}

/// A TCP proxy that can stop forwarding (holding what arrives) and refuse new connections,
/// like a link that was cut without either end hearing about it.
async fn proxy(to: SocketAddr, forwarding: Arc<AtomicBool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((inbound, _)) = listener.accept().await else { return };
            if !forwarding.load(Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            let Ok(outbound) = TcpStream::connect(to).await else { continue };
            let (ri, wi) = inbound.into_split();
            let (ro, wo) = outbound.into_split();
            tokio::spawn(pump(ri, wo, forwarding.clone()));
            tokio::spawn(pump(ro, wi, forwarding.clone()));
        }
    });
    at
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    forwarding: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // A cut link: nothing gets through, and nobody is told.
        while !forwarding.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_link_is_dropped_within_the_idle_timeout_and_redialled() {
    let config = ServeConfig {
        ping_interval: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(1000),
        ..ServeConfig::default()
    };
    let (a, _da) = node().await;
    let id = a.create_workshop(new_workshop()).await.unwrap();
    let serving = a.serve_with(loopback(), config.clone()).await.unwrap();
    let invite = a.invite(id).await.unwrap();
    let (b, _db) = node().await;
    // B serves too (elsewhere) only to take the short keepalive for its own channels.
    let _b_serving = b.serve_with(loopback(), config).await.unwrap();
    b.join_by_link(&invite.link, "Ben", Colour::Sky).await.unwrap();
    converge(&[&a, &b], id, WITHIN).await;

    let forwarding = Arc::new(AtomicBool::new(true));
    let via = proxy(serving.local_addr(), forwarding.clone()).await;
    b.disconnect(id, serving.local_addr());
    eventually("B to drop the direct link", WITHIN, || async { b.peers(id).is_empty() }).await;
    b.connect(id, via).await.unwrap();
    eventually("B to connect through the proxy", WITHIN, || async {
        b.peers(id).iter().any(|p| p.address == via) && a.peers(id).len() == 1
    })
    .await;
    // Idle but healthy: pings keep it up well past the idle timeout.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(b.peers(id).len(), 1, "pings keep an idle channel up");

    forwarding.store(false, Ordering::SeqCst);
    let cut = std::time::Instant::now();
    eventually("both to drop the silent link", Duration::from_secs(4), || async {
        b.peers(id).is_empty() && a.peers(id).is_empty()
    })
    .await;
    assert!(cut.elapsed() < Duration::from_secs(3), "dropped within about the idle timeout");

    forwarding.store(true, Ordering::SeqCst);
    eventually("B to redial through the proxy", WITHIN, || async {
        b.peers(id).iter().any(|p| p.address == via) && a.peers(id).len() == 1
    })
    .await;
    let prompt = first_prompt(&a, id).await;
    let note = add_note(&a, id, prompt, "after the cut", false).await;
    converge(&[&a, &b], id, WITHIN).await;
    assert!(notes(&snapshot(&b, id).await).iter().any(|n| n.id == note));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_laptops_dialling_each_other_keep_one_channel() {
    let (a, _da, id, a_serving) = facilitator().await;
    let invite = a.invite(id).await.unwrap();
    let (b, _db) = node().await;
    let b_serving = b.serve(loopback()).await.unwrap();
    b.join_by_link(&invite.link, "Ben", Colour::Sky).await.unwrap();
    converge(&[&a, &b], id, WITHIN).await;
    a.connect(id, b_serving.local_addr()).await.unwrap();
    b.connect(id, a_serving.local_addr()).await.unwrap();

    // Give both dialers time to try (and retry) more than once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    eventually("one channel each", WITHIN, || async { a.peers(id).len() == 1 && b.peers(id).len() == 1 })
        .await;
    let (on_a, on_b) = (a.peers(id), b.peers(id));
    assert_ne!(on_a[0].outgoing, on_b[0].outgoing, "the same channel, seen from both ends");
    let lower = if a.device_key() < b.device_key() { &a } else { &b };
    assert!(lower.peers(id)[0].outgoing, "the lower device key's dial is kept");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!((a.peers(id).len(), b.peers(id).len()), (1, 1), "and it stays that way");

    let prompt = first_prompt(&a, id).await;
    let (from_a, from_b) = tokio::join!(
        add_note(&a, id, prompt, "A's idea", false),
        add_note(&b, id, prompt, "B's idea", false),
    );
    converge(&[&a, &b], id, WITHIN).await;
    for node in [&a, &b] {
        let notes = notes(&snapshot(node, id).await);
        assert!(notes.iter().any(|n| n.id == from_a) && notes.iter().any(|n| n.id == from_b));
    }
}
