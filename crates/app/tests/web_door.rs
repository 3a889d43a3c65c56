//! The web front door end to end: a phone opens the page's WebSocket with the door key from
//! the QR code, joins by first name, and sees the laptop's person's changes (and they its).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use commonground_api::{Command, Event, ExportFormat, FrontReply, Notice, Reply, Request};
use commonground_protocol::{door_id, hex, parse_hex, DoorChannel, DoorRole};
use commonground_workshop::{Colour, ParticipantId, WorkshopId};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A browser: the page's side of the door protocol.
struct Browser {
    ws: Ws,
    channel: DoorChannel,
    next: u64,
    notices: Vec<Value>,
}

fn key_of(url: &str) -> [u8; 32] {
    let key = url.split("#door=").nth(1).unwrap();
    URL_SAFE_NO_PAD.decode(key).unwrap().try_into().unwrap()
}

async fn knock(url: &str) -> (Ws, [u8; 32], [u8; 16]) {
    let key = key_of(url);
    let host = url.trim_start_matches("http://").split('/').next().unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{host}/ws")).await.unwrap();
    let nonce = [0x5a; 16];
    let hello = json!({"v": 1, "door": door_id(&key), "nonce": hex(&nonce)}).to_string();
    ws.send(Message::Text(hello.into())).await.unwrap();
    (ws, key, nonce)
}

impl Browser {
    async fn open(url: &str, seat: &str) -> Browser {
        let (mut ws, key, nonce) = knock(url).await;
        let Some(Ok(Message::Text(back))) = ws.next().await else { panic!("no hello back") };
        let back: Value = serde_json::from_str(&back).unwrap();
        let server_nonce = parse_hex::<16>(back["nonce"].as_str().unwrap()).unwrap();
        let channel = DoorChannel::new(&key, &nonce, &server_nonce, DoorRole::Client);
        let mut browser = Browser { ws, channel, next: 1, notices: Vec::new() };
        browser.send(&json!({ "seat": seat })).await;
        browser
    }

    async fn send(&mut self, value: &Value) {
        let sealed = self.channel.seal(value.to_string().as_bytes()).unwrap();
        self.ws.send(Message::Binary(sealed.into())).await.unwrap();
    }

    async fn receive(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.ws.next()).await.unwrap();
            match message {
                Some(Ok(Message::Binary(sealed))) => {
                    return serde_json::from_slice(&self.channel.open(&sealed).unwrap()).unwrap()
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("the door closed: {other:?}"),
            }
        }
    }

    /// Sends a request and returns `ok` or `err`, keeping notices that arrive meanwhile.
    async fn ask(&mut self, request: &Request) -> Result<Value, Value> {
        let id = self.next;
        self.next += 1;
        self.send(&json!({ "id": id, "request": request })).await;
        loop {
            let message = self.receive().await;
            if message["id"] == json!(id) {
                return match message.get("ok") {
                    Some(ok) => Ok(ok.clone()),
                    None => Err(message["err"].clone()),
                };
            }
            self.notices.push(message["notice"].clone());
        }
    }

    async fn notice_where(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.notices.iter().position(&wanted) {
            return self.notices.remove(i);
        }
        loop {
            let message = self.receive().await;
            let notice = message["notice"].clone();
            if wanted(&notice) {
                return notice;
            }
        }
    }
}

fn command(workshop: WorkshopId, command: Command) -> Request {
    Request::Workshop { workshop, command }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_joins_by_first_name_and_both_see_each_others_notes() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app(dir.path(), true).await;
    let workshop = common::create(&app).await;
    let url = app.phone_url(workshop).unwrap();
    let mut owner_notices = app.notices();

    let mut phone = Browser::open(&url, &"ab".repeat(16)).await;
    let welcome = phone.ask(&Request::Hello).await.unwrap();
    assert_eq!(welcome["door"], "browser");
    assert_eq!(welcome["workshops"][0]["title"], "Living Well");
    assert_eq!(welcome["workshops"][0]["name"], Value::Null);
    let snapshot = phone.ask(&command(workshop, Command::GetSnapshot)).await.unwrap();
    assert_eq!(snapshot["reply"]["me"], Value::Null, "not joined yet");

    // A title is refused kindly, with the plain first name suggested.
    let refused =
        phone.ask(&command(workshop, Command::Join { name: "Dr Sam".into(), colour: Colour::Leaf })).await;
    let refused = refused.unwrap_err();
    assert_eq!(refused["kind"], "title");
    assert!(refused["message"].as_str().unwrap().contains("Sam"), "{refused}");
    let joined = phone
        .ask(&command(workshop, Command::Join { name: "Sam".into(), colour: Colour::Leaf }))
        .await
        .unwrap();
    assert_eq!(joined["reply"]["type"], "joined");

    // Phones can't do what only a laptop can.
    let nope = phone.ask(&Request::Invite { workshop }).await.unwrap_err();
    assert_eq!(nope["kind"], "laptop_only");
    let nope = phone.ask(&Request::SetFolder { workshop, folder: Some("/tmp".into()) }).await.unwrap_err();
    assert_eq!(nope["kind"], "laptop_only");
    let nope = phone
        .ask(&Request::SetSyncServer { workshop, url: Some("ws://127.0.0.1:9".into()) })
        .await
        .unwrap_err();
    assert_eq!(nope["kind"], "laptop_only");
    // Removing someone moves everyone to a new key, which only the laptop can start.
    let me: ParticipantId = serde_json::from_value(joined["reply"]["participant"].clone()).unwrap();
    let nope =
        phone.ask(&command(workshop, Command::RemoveParticipant { participant: me })).await.unwrap_err();
    assert_eq!(nope["kind"], "laptop_only");
    // What they may do: see how the laptop carries on from home, and download the document.
    let away = phone.ask(&Request::Away { workshop }).await.unwrap();
    assert_eq!(away["can_change"], false);
    let exported = phone.ask(&Request::Export { workshop, format: ExportFormat::Markdown }).await.unwrap();
    assert_eq!(exported["type"], "exported");
    assert!(exported["file_name"].as_str().unwrap().ends_with("-values.md"), "{exported}");

    // The laptop's person adds a note: the phone hears of it.
    let prompt = match app.request(command(workshop, Command::GetSnapshot)).await.unwrap() {
        FrontReply::Workshop { reply: Reply::Snapshot(s) } => s.board.prompts[0].id,
        other => panic!("{other:?}"),
    };
    let add = |text: &str| Command::AddNote {
        prompt,
        text: text.into(),
        colour: Colour::Sun,
        x: 0.0,
        y: 0.0,
        anonymous: false,
        private: false,
    };
    app.request(command(workshop, add("Somewhere to go at 3am"))).await.unwrap();
    let seen = phone.notice_where(|n| n["type"] == "view" && n["event"]["type"] == "note_upserted").await;
    assert_eq!(seen["event"]["note"]["text"], "Somewhere to go at 3am");
    assert_eq!(seen["event"]["note"]["mine"], false);

    // The phone adds one: the laptop's person hears of it.
    phone.ask(&command(workshop, add("Peer support on the phone line"))).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(Notice::View { event: Event::NoteUpserted { note }, .. }) = owner_notices.recv().await {
                if note.text == "Peer support on the phone line" {
                    return note;
                }
            }
        }
    })
    .await
    .unwrap();
    assert!(!heard.mine);

    // The same seat after a reload is the same person.
    drop(phone);
    let mut again = Browser::open(&url, &"ab".repeat(16)).await;
    let welcome = again.ask(&Request::Hello).await.unwrap();
    assert_eq!(welcome["workshops"][0]["name"], "Sam");
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_doors_and_tampered_messages_are_turned_away() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app(dir.path(), true).await;
    let workshop = common::create(&app).await;
    let url = app.phone_url(workshop).unwrap();

    // A made-up key: the door doesn't exist.
    let web: SocketAddr = app.web_address().unwrap();
    let fake = format!("http://{web}/#door={}", URL_SAFE_NO_PAD.encode([1u8; 32]));
    let (mut ws, _, _) = knock(&fake).await;
    match ws.next().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 4001),
        other => panic!("expected the door to stay shut: {other:?}"),
    }

    // A changed message closes the connection, and nothing reaches the workshop.
    let mut phone = Browser::open(&url, &"cd".repeat(16)).await;
    let mut sealed =
        phone.channel.seal(json!({"id": 1, "request": {"type": "hello"}}).to_string().as_bytes()).unwrap();
    sealed[3] ^= 0x40;
    phone.ws.send(Message::Binary(sealed.into())).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), phone.ws.next()).await.unwrap();
    assert!(matches!(closed, None | Some(Ok(Message::Close(_))) | Some(Err(_))), "{closed:?}");

    // The owner page opens the laptop's person's seat, with the desktop door.
    let mut owner = Browser::open(&app.owner_url().unwrap(), &"ef".repeat(16)).await;
    let welcome = owner.ask(&Request::Hello).await.unwrap();
    assert_eq!(welcome["door"], "desktop");
    assert_eq!(welcome["workshops"][0]["name"], "Alex");
    app.close().await;
}
