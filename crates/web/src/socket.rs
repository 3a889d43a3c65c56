//! One browser's WebSocket: the hello, then sealed requests, replies and notices.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use commonground_api::{ApiError, FrontReply};
use commonground_node::GuestId;
use commonground_protocol::{hex, parse_hex, DoorChannel, DoorRole, DOOR_NONCE_LEN};
use futures::{SinkExt, StreamExt};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::{Backend, Opens, Seat};

/// How long a browser has for each step of the hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Close codes the page understands.
const CLOSE_UNKNOWN_DOOR: u16 = 4001;
const CLOSE_BAD_HELLO: u16 = 4002;
/// Replies and notices waiting to be sealed and sent.
const OUTGOING: usize = 256;

#[derive(Deserialize)]
struct Hello {
    v: u32,
    door: String,
    nonce: String,
}

#[derive(Serialize)]
struct HelloBack {
    v: u32,
    nonce: String,
}

#[derive(Deserialize)]
struct SeatMessage {
    seat: String,
}

#[derive(Deserialize)]
struct Incoming {
    id: u64,
    request: serde_json::Value,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Outgoing {
    Ok { id: u64, ok: FrontReply },
    Err { id: u64, err: ApiError },
    Notice { notice: Box<commonground_api::Notice> },
}

pub(crate) async fn run(socket: WebSocket, backend: Arc<dyn Backend>) {
    let (mut sink, mut stream) = socket.split();
    let refuse =
        |code: u16, reason: &'static str| Message::Close(Some(CloseFrame { code, reason: reason.into() }));

    // The hello, in the clear: which door, and the browser's nonce.
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => serde_json::from_str::<Hello>(&text).ok(),
        _ => None,
    };
    let Some(hello) = hello.filter(|h| h.v == 1) else {
        let _ = sink.send(refuse(CLOSE_BAD_HELLO, "bad hello")).await;
        return;
    };
    let Some(client_nonce) = parse_hex::<DOOR_NONCE_LEN>(&hello.nonce) else {
        let _ = sink.send(refuse(CLOSE_BAD_HELLO, "bad hello")).await;
        return;
    };
    let Some(door) = backend.door(&hello.door) else {
        tracing::debug!("a browser knocked on a door that isn't open");
        let _ = sink.send(refuse(CLOSE_UNKNOWN_DOOR, "unknown door")).await;
        return;
    };
    let mut server_nonce = [0u8; DOOR_NONCE_LEN];
    if rand::rngs::OsRng.try_fill_bytes(&mut server_nonce).is_err() {
        return;
    }
    let back = HelloBack { v: 1, nonce: hex(&server_nonce) };
    let Ok(back) = serde_json::to_string(&back) else { return };
    if sink.send(Message::Text(back.into())).await.is_err() {
        return;
    }
    let channel =
        Arc::new(Mutex::new(DoorChannel::new(&door.key, &client_nonce, &server_nonce, DoorRole::Server)));
    let opens = door.opens;
    drop(door);

    // The first sealed message says which seat: who this browser is.
    let seat = match tokio::time::timeout(HELLO_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(Message::Binary(sealed)))) => open(&channel, &sealed)
            .and_then(|plain| serde_json::from_slice::<SeatMessage>(&plain).ok())
            .and_then(|m| GuestId::parse(&m.seat)),
        _ => None,
    };
    let Some(guest) = seat else {
        let _ = sink.send(refuse(CLOSE_BAD_HELLO, "bad hello")).await;
        return;
    };
    let seat = match opens {
        Opens::Owner => Seat::Owner,
        Opens::Workshop(workshop) => Seat::Guest { workshop, guest },
    };
    tracing::debug!(owner = matches!(seat, Seat::Owner), "a browser opened a door");

    // One writer seals everything, in order.
    let (out_tx, mut out_rx) = mpsc::channel::<Outgoing>(OUTGOING);
    let writer_channel = channel.clone();
    let writer = tokio::spawn(async move {
        while let Some(message) = out_rx.recv().await {
            let Ok(json) = serde_json::to_vec(&message) else { continue };
            let sealed = {
                let mut channel = writer_channel.lock().unwrap_or_else(|e| e.into_inner());
                channel.seal(&json)
            };
            let Ok(sealed) = sealed else { break };
            if sink.send(Message::Binary(sealed.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let (session, mut notices) = backend.open(seat);
    let notice_tx = out_tx.clone();
    let forward = tokio::spawn(async move {
        while let Some(notice) = notices.recv().await {
            if notice_tx.send(Outgoing::Notice { notice: Box::new(notice) }).await.is_err() {
                break;
            }
        }
    });

    // Requests run one at a time, in the order sent: typing arrives as a series of splices.
    while let Some(Ok(message)) = stream.next().await {
        let sealed = match message {
            Message::Binary(sealed) => sealed,
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Text(_) => break,
        };
        let Some(plain) = open(&channel, &sealed) else {
            tracing::debug!("a browser sent a message that failed its check; closing");
            break;
        };
        let Ok(incoming) = serde_json::from_slice::<Incoming>(&plain) else { break };
        let reply = match serde_json::from_value(incoming.request) {
            Ok(request) => session.clone().request(request).await,
            Err(e) => Err(ApiError::new(
                "bad_request",
                format!("This page sent a request the laptop doesn't understand ({e}). Reloading the page should fix it."),
            )),
        };
        let out = match reply {
            Ok(ok) => Outgoing::Ok { id: incoming.id, ok },
            Err(err) => Outgoing::Err { id: incoming.id, err },
        };
        if out_tx.send(out).await.is_err() {
            break;
        }
    }
    forward.abort();
    drop(out_tx);
    let _ = writer.await;
}

fn open(channel: &Mutex<DoorChannel>, sealed: &[u8]) -> Option<Vec<u8>> {
    channel.lock().unwrap_or_else(|e| e.into_inner()).open(sealed).ok()
}
