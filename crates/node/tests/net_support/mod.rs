//! Helpers for the network tests: nodes in temporary folders on 127.0.0.1, and waiting for
//! them to agree.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use commonground_api::Snapshot;
use commonground_node::{Node, NodeEvent, ServeHandle};
use commonground_workshop::{ChangeHash, Colour, WorkshopId};
use tempfile::TempDir;
use tokio::sync::broadcast;

use crate::support;

/// Any port on the loopback address.
pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A node in its own temporary folder (kept alive by the returned `TempDir`).
pub async fn node() -> (Node, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(dir.path().join("data")).await.unwrap();
    (node, dir)
}

/// A facilitator's node with a new workshop, serving on an ephemeral loopback port.
pub async fn facilitator() -> (Node, TempDir, WorkshopId, ServeHandle) {
    let (node, dir) = node().await;
    let id = node.create_workshop(support::new_workshop()).await.unwrap();
    let handle = node.serve(loopback()).await.unwrap();
    (node, dir, id, handle)
}

/// A laptop joining the facilitator's workshop by its code, as `name` in sky, and caught up
/// with it.
pub async fn join_one(
    facilitator: &Node,
    id: WorkshopId,
    serving: &ServeHandle,
    name: &str,
) -> (Node, TempDir) {
    let invite = facilitator.invite(id).await.unwrap();
    let (laptop, dir) = node().await;
    let joined = laptop.join_by_code(serving.local_addr(), &invite.code, name, Colour::Sky).await.unwrap();
    assert_eq!(joined, id);
    converge(&[facilitator, &laptop], id, Duration::from_secs(8)).await;
    (laptop, dir)
}

/// Two laptops joining the facilitator's workshop at the same time, one by its link (named
/// `by_link`, in sky) and one by its code (`by_code`, in sun).
pub async fn two_join(
    facilitator: &Node,
    id: WorkshopId,
    serving: &ServeHandle,
    by_link: &str,
    by_code: &str,
) -> ((Node, TempDir), (Node, TempDir)) {
    let invite = facilitator.invite(id).await.unwrap();
    let (first, second) = (node().await, node().await);
    let (joined_first, joined_second) = tokio::join!(
        first.0.join_by_link(&invite.link, by_link, Colour::Sky),
        second.0.join_by_code(serving.local_addr(), &invite.code, by_code, Colour::Sun),
    );
    assert_eq!((joined_first.unwrap(), joined_second.unwrap()), (id, id));
    (first, second)
}

pub async fn heads(node: &Node, id: WorkshopId) -> Vec<ChangeHash> {
    let mut heads = node.with_service(id, |s| s.workshop().heads()).await.unwrap();
    heads.sort();
    heads
}

/// Polls `check` every 50 ms until it holds, failing after `within`.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(start.elapsed() < within, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every node has the same heads for `id`.
pub async fn converge(nodes: &[&Node], id: WorkshopId, within: Duration) {
    eventually("the nodes to converge", within, || async {
        let first = heads(nodes[0], id).await;
        for node in &nodes[1..] {
            if heads(node, id).await != first {
                return false;
            }
        }
        true
    })
    .await;
}

/// A snapshot as JSON, without what depends on who is looking ("me", "mine", dots left).
pub fn shared_view(snapshot: &Snapshot) -> serde_json::Value {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|k, _| {
                    !matches!(k.as_str(), "me" | "mine" | "votes_left") && !k.starts_with("my_")
                });
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(snapshot).unwrap();
    strip(&mut value);
    value
}

/// Waits for an event matching `matches`, failing after `within`.
pub async fn expect_event(
    events: &mut broadcast::Receiver<NodeEvent>,
    within: Duration,
    what: &str,
    mut matches: impl FnMut(&NodeEvent) -> bool,
) -> NodeEvent {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(event)) if matches(&event) => return event,
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("event stream ended waiting for {what}: {e}"),
            Err(_) => panic!("timed out after {within:?} waiting for {what}"),
        }
    }
}
