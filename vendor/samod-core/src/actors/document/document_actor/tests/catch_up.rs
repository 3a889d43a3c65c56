//! Common Ground patch: peers that are up to date are sent nothing while others catch up,
//! then get everything at once (`DocumentActor::catching_up_first`).

use std::time::Duration;

use super::*;
use automerge::{ChangeHash, sync::Message};

/// A peer of the actor: its own document and its side of the sync.
struct Peer {
    conn: ConnectionId,
    doc: Automerge,
    state: sync::State,
}

impl Peer {
    /// A peer with `key` set in its document (worked offline), or an empty one.
    fn new(conn: ConnectionId, key: Option<&str>) -> Self {
        let mut doc = Automerge::new();
        if let Some(key) = key {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, key, true))
                .unwrap();
        }
        Peer {
            conn,
            doc,
            state: sync::State::new(),
        }
    }

    /// This peer's next message to the actor, if it has one.
    fn say(&mut self) -> Option<SyncMessage> {
        self.doc
            .generate_sync_message(&mut self.state)
            .map(|message| SyncMessage::Sync {
                data: message.encode(),
            })
    }

    /// Takes in what the actor sent this peer; how many messages that was.
    fn hear(&mut self, result: &DocActorResult) -> usize {
        let mine = sent(result, self.conn);
        for data in &mine {
            self.doc
                .receive_sync_message(&mut self.state, Message::decode(data).unwrap())
                .unwrap();
        }
        mine.len()
    }

    fn has(&self, key: &str) -> bool {
        self.doc.get(ROOT, key).unwrap().is_some()
    }
}

/// The sync messages in `result` for `conn`.
fn sent(result: &DocActorResult, conn: ConnectionId) -> Vec<Vec<u8>> {
    result
        .outgoing_messages
        .iter()
        .filter_map(|msg| match &msg.0 {
            DocToHubMsgPayload::SendSyncMessage {
                connection_id,
                message: SyncMessage::Sync { data },
                ..
            } if *connection_id == conn => Some(data.clone()),
            _ => None,
        })
        .collect()
}

/// A ready actor with an empty document and a read-write connection for each name.
fn actor_with(names: &[&str], now: UnixTimestamp) -> (DocumentActor, Vec<ConnectionId>) {
    let peers: Vec<(&str, ShareConfig)> = names
        .iter()
        .map(|name| (*name, ShareConfig::read_write()))
        .collect();
    let (actor, conns, _) = actor_sharing(&peers, now);
    (actor, conns)
}

/// A ready actor with an empty document and a connection for each name with its share
/// config, and what the actor sent when it started.
fn actor_sharing(
    peers: &[(&str, ShareConfig)],
    now: UnixTimestamp,
) -> (DocumentActor, Vec<ConnectionId>, DocActorResult) {
    let conns: Vec<ConnectionId> = peers.iter().map(|_| ConnectionId::new()).collect();
    let args = SpawnArgs {
        local_peer_id: "local".into(),
        actor_id: DocumentActorId::new(),
        document_id: DocumentId::new(&mut rand::rng()),
        initial_content: Some(Automerge::new()),
        initial_connections: conns
            .iter()
            .zip(peers)
            .map(|(conn, (name, _))| (*conn, ((*name).into(), None)))
            .collect(),
    };
    let (mut actor, result) = DocumentActor::new(now, args);
    let mut first = DocActorResult::new();
    for task in &result.io_tasks {
        if let DocumentIoTask::CheckSharePolicy { peer_id, .. } = &task.action {
            let config = peers
                .iter()
                .find(|(name, _)| peer_id.as_str() == *name)
                .map(|(_, config)| *config)
                .unwrap();
            let more = actor
                .handle_io_complete(
                    now,
                    IoResult {
                        task_id: task.task_id,
                        payload: DocumentIoResult::CheckSharePolicy(config),
                    },
                )
                .unwrap();
            first.outgoing_messages.extend(more.outgoing_messages);
        }
    }
    (actor, conns, first)
}

fn receive(
    actor: &mut DocumentActor,
    conn: ConnectionId,
    message: SyncMessage,
    now: UnixTimestamp,
) -> DocActorResult {
    actor
        .handle_message(
            now,
            HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
                connection_id: conn,
                message: DocMessage::Sync(message),
                received_at: now,
            }),
        )
        .unwrap()
}

/// Exchanges messages between the actor and the peers until neither side has anything
/// more to say.
fn settle(actor: &mut DocumentActor, peers: &mut [Peer], now: UnixTimestamp) {
    let mut result = actor.handle_tick(now).unwrap();
    for _ in 0..50 {
        let mut quiet = true;
        for peer in peers.iter_mut() {
            quiet &= peer.hear(&result) == 0;
        }
        result = DocActorResult::new();
        for peer in peers.iter_mut() {
            if let Some(message) = peer.say() {
                quiet = false;
                let more = receive(actor, peer.conn, message, now);
                result.outgoing_messages.extend(more.outgoing_messages);
            }
        }
        if quiet {
            return;
        }
    }
    panic!("the peers never settled");
}

fn sorted_heads(doc: &Automerge) -> Vec<ChangeHash> {
    let mut heads = doc.get_heads();
    heads.sort();
    heads
}

fn local_change(actor: &mut DocumentActor, key: &str, now: UnixTimestamp) -> DocActorResult {
    actor
        .with_document(now, |doc| {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, key, true))
                .unwrap();
        })
        .unwrap()
        .actor_result
}

#[test]
fn a_peer_up_to_date_waits_for_those_catching_up_then_gets_it_all_at_once() {
    let now = UnixTimestamp::now();
    let (mut actor, conns) = actor_with(&["ben", "cleo", "sarah"], now);
    let mut ben = Peer::new(conns[0], Some("ben's note"));
    let mut cleo = Peer::new(conns[1], Some("cleo's note"));
    let mut sarah = Peer::new(conns[2], None);
    settle(&mut actor, std::slice::from_mut(&mut sarah), now);

    // Ben and Cleo come back from working offline: their first messages say what they have.
    let to_ben = receive(&mut actor, ben.conn, ben.say().unwrap(), now);
    let to_cleo = receive(&mut actor, cleo.conn, cleo.say().unwrap(), now);
    assert!(
        actor.is_waiting(),
        "Sarah waits while Ben and Cleo catch up"
    );
    assert!(sent(&to_ben, sarah.conn).is_empty() && sent(&to_cleo, sarah.conn).is_empty());

    // Ben, answered as usual, sends his note; Cleo is still catching up.
    assert_eq!(ben.hear(&to_ben), 1, "Ben is answered");
    let after_ben = receive(&mut actor, ben.conn, ben.say().unwrap(), now);
    assert!(actor.document().get(ROOT, "ben's note").unwrap().is_some());
    assert!(actor.is_waiting());
    assert!(
        sent(&after_ben, sarah.conn).is_empty(),
        "nothing for Sarah yet"
    );
    ben.hear(&after_ben);

    // Cleo's note comes in: nobody is catching up any more.
    assert_eq!(cleo.hear(&to_cleo), 1, "Cleo is answered");
    cleo.hear(&after_ben);
    let after_cleo = receive(&mut actor, cleo.conn, cleo.say().unwrap(), now);
    assert!(!actor.is_waiting());
    assert_eq!(sarah.hear(&after_cleo), 1, "one message for Sarah…");
    assert!(
        sarah.has("ben's note") && sarah.has("cleo's note"),
        "…with both notes"
    );
    ben.hear(&after_cleo);
    cleo.hear(&after_cleo);

    let mut peers = [ben, cleo, sarah];
    settle(&mut actor, &mut peers, now);
    for peer in &peers {
        assert_eq!(sorted_heads(&peer.doc), sorted_heads(actor.document()));
    }
}

#[test]
fn a_peer_that_brings_nothing_is_waited_for_only_so_long_whatever_else_happens() {
    let start = UnixTimestamp::now();
    let (mut actor, conns) = actor_with(&["ben", "sarah"], start);
    let mut ben = Peer::new(conns[0], Some("ben's note"));
    let mut sarah = Peer::new(conns[1], None);
    settle(&mut actor, std::slice::from_mut(&mut sarah), start);

    // Ben says what he has, then never sends it; meanwhile notes are written here.
    receive(&mut actor, ben.conn, ben.say().unwrap(), start);
    for (second, key) in ["first", "second", "third"].iter().enumerate() {
        let at = start + Duration::from_secs(second as u64);
        let edit = local_change(&mut actor, key, at);
        assert!(
            sent(&edit, sarah.conn).is_empty(),
            "Sarah waits for Ben's notes"
        );
    }

    let stall = DocumentActor::CATCH_UP_STALL;
    let tick = actor
        .handle_tick(start + (stall - Duration::from_millis(1)))
        .unwrap();
    assert!(sent(&tick, sarah.conn).is_empty(), "still waiting");
    assert!(actor.is_waiting());

    let tick = actor.handle_tick(start + stall).unwrap();
    assert_eq!(
        sarah.hear(&tick),
        1,
        "Ben brought nothing for a while: the wait ends, although notes kept being written"
    );
    assert!(sarah.has("first") && sarah.has("second") && sarah.has("third"));
    assert!(!actor.is_waiting());

    // Ben still hasn't sent his notes, and isn't waited for again.
    let later = start + stall + Duration::from_secs(1);
    settle(&mut actor, std::slice::from_mut(&mut sarah), later);
    let edit = local_change(&mut actor, "another note", later);
    assert_eq!(sarah.hear(&edit), 1, "sent at once");
    assert!(!actor.is_waiting());
}

#[test]
fn a_peer_bringing_its_notes_in_parts_is_waited_for_from_its_last_part() {
    let start = UnixTimestamp::now();
    let (mut actor, conns) = actor_with(&["ben", "sarah"], start);
    let mut ben = Peer::new(conns[0], Some("ben's first note"));
    ben.doc
        .transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "ben's second note", true))
        .unwrap();
    let mut sarah = Peer::new(conns[1], None);
    settle(&mut actor, std::slice::from_mut(&mut sarah), start);

    let answer = receive(&mut actor, ben.conn, ben.say().unwrap(), start);
    ben.hear(&answer);
    // Ben's notes, sent one change per message (as over a slow link).
    let SyncMessage::Sync { data } = ben.say().unwrap() else {
        unreachable!()
    };
    let message = Message::decode(&data).unwrap();
    let part = |i: usize| {
        let mut part = message.clone();
        let change = ben.doc.get_changes(&[])[i].raw_bytes().to_vec();
        part.changes = sync::ChunkList::from(vec![change]);
        SyncMessage::Sync {
            data: part.encode(),
        }
    };
    let stall = DocumentActor::CATCH_UP_STALL;
    let first = receive(
        &mut actor,
        ben.conn,
        part(0),
        start + Duration::from_secs(2),
    );
    assert!(
        actor
            .document()
            .get(ROOT, "ben's first note")
            .unwrap()
            .is_some()
    );
    assert!(sent(&first, sarah.conn).is_empty());
    let tick = actor.handle_tick(start + stall).unwrap();
    assert!(
        sent(&tick, sarah.conn).is_empty(),
        "Ben brought something 1 s ago: the rest may come"
    );

    let second = receive(
        &mut actor,
        ben.conn,
        part(1),
        start + Duration::from_secs(4),
    );
    assert_eq!(sarah.hear(&second), 1);
    assert!(sarah.has("ben's first note") && sarah.has("ben's second note"));
}

#[test]
fn a_wait_ends_at_the_limit_while_laptops_keep_arriving() {
    // A laptop arrives every 2 s and brings its notes 2.5 s later, so someone is always
    // catching up, and nobody takes too long.
    let (every, brings_after) = (2000, 2500);
    let limit = DocumentActor::CATCH_UP_LIMIT.as_millis() as u64;
    assert!(brings_after < DocumentActor::CATCH_UP_STALL.as_millis() as u64);
    let laptops = (limit / every + 1) as usize;
    let mut names: Vec<String> = (0..laptops).map(|i| format!("p{i}")).collect();
    names.push("sarah".into());
    let names: Vec<&str> = names.iter().map(String::as_str).collect();

    let start = UnixTimestamp::now();
    let (mut actor, conns) = actor_with(&names, start);
    let mut sarah = Peer::new(conns[laptops], None);
    settle(&mut actor, std::slice::from_mut(&mut sarah), start);
    let mut arriving: Vec<Peer> = (0..laptops)
        .map(|i| Peer::new(conns[i], Some(&format!("note {i}"))))
        .collect();

    let at = |millis: u64| start + Duration::from_millis(millis);
    let mut answers = Vec::new();
    let mut events: Vec<(u64, usize, bool)> = (0..laptops)
        .flat_map(|i| {
            let arrives = every * i as u64;
            [(arrives, i, false), (arrives + brings_after, i, true)]
        })
        .filter(|(millis, _, _)| *millis < limit)
        .collect();
    events.sort();
    for (millis, i, brings) in events {
        let result = if brings {
            arriving[i].hear(&answers[i]);
            let message = arriving[i].say().unwrap();
            receive(&mut actor, arriving[i].conn, message, at(millis))
        } else {
            let message = arriving[i].say().unwrap();
            let answer = receive(&mut actor, arriving[i].conn, message, at(millis));
            answers.push(answer);
            DocActorResult::new()
        };
        assert!(
            sent(&result, sarah.conn).is_empty(),
            "Sarah waits ({millis} ms)"
        );
        let tick = actor.handle_tick(at(millis)).unwrap();
        assert!(
            sent(&tick, sarah.conn).is_empty(),
            "Sarah waits ({millis} ms)"
        );
    }
    assert!(actor.is_waiting());

    let tick = actor.handle_tick(at(limit)).unwrap();
    assert_eq!(
        sarah.hear(&tick),
        1,
        "at the limit Sarah gets what there is"
    );
    let brought = (0..laptops).filter(|i| every * *i as u64 + brings_after < limit);
    assert!(brought.clone().count() >= 2);
    for i in brought {
        assert!(sarah.has(&format!("note {i}")));
    }
}

#[test]
fn a_clock_set_back_ends_the_wait() {
    let start = UnixTimestamp::now();
    let (mut actor, conns) = actor_with(&["ben", "sarah"], start);
    let mut ben = Peer::new(conns[0], Some("ben's note"));
    let mut sarah = Peer::new(conns[1], None);
    settle(&mut actor, std::slice::from_mut(&mut sarah), start);
    receive(&mut actor, ben.conn, ben.say().unwrap(), start);
    local_change(&mut actor, "a new note", start);
    assert!(actor.is_waiting());

    let tick = actor
        .handle_tick(start - Duration::from_secs(3600))
        .unwrap();
    assert_eq!(sarah.hear(&tick), 1);
    assert!(!actor.is_waiting());
}

/// A laptop that dialled us: it sends its changes first.
fn dialled_us() -> ShareConfig {
    ShareConfig::read_write().with_gather_first(true)
}

#[test]
fn laptops_that_dialled_us_send_their_changes_first_then_each_gets_everything_at_once() {
    let now = UnixTimestamp::now();
    let (mut actor, conns, first) = actor_sharing(
        &[
            ("ben", dialled_us()),
            ("cleo", dialled_us()),
            ("sarah", ShareConfig::read_write()),
        ],
        now,
    );
    let mut ben = Peer::new(conns[0], Some("ben's note"));
    let mut cleo = Peer::new(conns[1], Some("cleo's note"));
    let mut sarah = Peer::new(conns[2], None);
    assert_eq!(sarah.hear(&first), 1);
    settle(&mut actor, std::slice::from_mut(&mut sarah), now);

    // Ben and Cleo come back from working offline; their first messages cross ours.
    let to_ben = receive(&mut actor, ben.conn, ben.say().unwrap(), now);
    let to_cleo = receive(&mut actor, cleo.conn, cleo.say().unwrap(), now);
    assert!(actor.is_waiting());
    for result in [&to_ben, &to_cleo] {
        for peer in [&ben, &cleo, &sarah] {
            assert!(
                sent(result, peer.conn).is_empty(),
                "nothing for anyone while laptops that know what we have catch up"
            );
        }
    }

    // Ben, who has our first message, sends his note; Cleo is still catching up.
    assert_eq!(ben.hear(&first), 1);
    let after_ben = receive(&mut actor, ben.conn, ben.say().unwrap(), now);
    assert!(actor.document().get(ROOT, "ben's note").unwrap().is_some());
    assert!(actor.is_waiting());
    for peer in [&ben, &cleo, &sarah] {
        assert!(
            sent(&after_ben, peer.conn).is_empty(),
            "Ben now waits with Sarah"
        );
    }

    // Cleo, catching up alone now, still gets nothing before she sends hers; then each
    // gets one message with everything the others brought.
    let tick = actor.handle_tick(now).unwrap();
    for peer in [&ben, &cleo, &sarah] {
        assert!(sent(&tick, peer.conn).is_empty());
    }
    assert_eq!(cleo.hear(&first), 1);
    let after_cleo = receive(&mut actor, cleo.conn, cleo.say().unwrap(), now);
    assert!(!actor.is_waiting());
    assert_eq!(ben.hear(&after_cleo), 1);
    assert_eq!(cleo.hear(&after_cleo), 1);
    assert_eq!(sarah.hear(&after_cleo), 1);
    assert!(ben.has("cleo's note") && cleo.has("ben's note"));
    assert!(sarah.has("ben's note") && sarah.has("cleo's note"));

    let mut peers = [ben, cleo, sarah];
    settle(&mut actor, &mut peers, now);
    for peer in &peers {
        assert_eq!(sorted_heads(&peer.doc), sorted_heads(actor.document()));
    }
}

#[test]
fn a_laptop_that_dialled_us_before_hearing_from_us_gets_what_we_have_without_changes() {
    let now = UnixTimestamp::now();

    // Their first messages come in before we have said anything to them (they wait for
    // the share policy): each gets a message without changes, saying what we have, so that
    // it can send what we lack.
    let mut sams = Automerge::new();
    sams.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "sam's note", true))
        .unwrap();
    let conns = [ConnectionId::new(), ConnectionId::new()];
    let mut ben = Peer::new(conns[0], Some("ben's note"));
    let mut cleo = Peer::new(conns[1], Some("cleo's note"));
    let args = SpawnArgs {
        local_peer_id: "local".into(),
        actor_id: DocumentActorId::new(),
        document_id: DocumentId::new(&mut rand::rng()),
        initial_content: Some(sams),
        initial_connections: [(ben.conn, "ben"), (cleo.conn, "cleo")]
            .into_iter()
            .map(|(conn, name)| (conn, (name.into(), None)))
            .collect(),
    };
    let (mut actor, result) = DocumentActor::new(now, args);
    assert!(
        sent(&result, ben.conn).is_empty(),
        "nothing before the share policy"
    );
    let policy: Vec<_> = result
        .io_tasks
        .iter()
        .filter(|task| matches!(task.action, DocumentIoTask::CheckSharePolicy { .. }))
        .map(|task| task.task_id)
        .collect();
    receive(&mut actor, ben.conn, ben.say().unwrap(), now);
    receive(&mut actor, cleo.conn, cleo.say().unwrap(), now);
    let mut answers = DocActorResult::new();
    for task_id in policy {
        let more = actor
            .handle_io_complete(
                now,
                IoResult {
                    task_id,
                    payload: DocumentIoResult::CheckSharePolicy(dialled_us()),
                },
            )
            .unwrap();
        answers.outgoing_messages.extend(more.outgoing_messages);
    }
    assert_eq!(ben.hear(&answers), 1, "Ben hears from us");
    assert_eq!(cleo.hear(&answers), 1, "Cleo hears from us");
    assert!(
        !ben.has("sam's note") && !cleo.has("sam's note"),
        "without changes"
    );

    // They send their notes; then each gets one message with everything.
    let after_ben = receive(&mut actor, ben.conn, ben.say().unwrap(), now);
    assert!(sent(&after_ben, ben.conn).is_empty() && sent(&after_ben, cleo.conn).is_empty());
    let after_cleo = receive(&mut actor, cleo.conn, cleo.say().unwrap(), now);
    assert_eq!(ben.hear(&after_cleo), 1);
    assert_eq!(cleo.hear(&after_cleo), 1);
    assert!(ben.has("sam's note") && ben.has("cleo's note"));
    assert!(cleo.has("sam's note") && cleo.has("ben's note"));
    let mut peers = [ben, cleo];
    settle(&mut actor, &mut peers, now);
    for peer in &peers {
        assert_eq!(sorted_heads(&peer.doc), sorted_heads(actor.document()));
    }
}

/// A sync message of `message`'s with only `changes` in it.
fn with_only(message: SyncMessage, changes: Vec<Vec<u8>>) -> SyncMessage {
    let SyncMessage::Sync { data } = message else {
        panic!("a sync message")
    };
    let mut message = Message::decode(&data).unwrap();
    message.changes = changes.into();
    SyncMessage::Sync {
        data: message.encode(),
    }
}

fn put(peer: &mut Peer, key: &str) {
    peer.doc
        .transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, key, true))
        .unwrap();
}

#[test]
fn a_laptop_that_dialled_us_and_brought_changes_it_cannot_yet_apply_is_answered() {
    let now = UnixTimestamp::now();
    let (mut actor, conns, mut first) =
        actor_sharing(&[("ben", dialled_us()), ("cleo", dialled_us())], now);
    // Ben and Cleo had the workshop's first nine notes before they went offline.
    for k in 0..9 {
        let result = local_change(&mut actor, &format!("shared {k}"), now);
        first.outgoing_messages.extend(result.outgoing_messages);
    }
    let mut ben = Peer::new(conns[0], None);
    let mut cleo = Peer::new(conns[1], None);
    ben.doc = actor.document().fork();
    cleo.doc = actor.document().fork();
    put(&mut ben, "ben's note");
    put(&mut ben, "ben's second");
    put(&mut cleo, "cleo's note");

    // They come back; both are catching up, and know what we have.
    let to_ben = receive(&mut actor, ben.conn, ben.say().unwrap(), now);
    let to_cleo = receive(&mut actor, cleo.conn, cleo.say().unwrap(), now);
    assert!(sent(&to_cleo, ben.conn).is_empty() && sent(&to_cleo, cleo.conn).is_empty());
    ben.hear(&first);
    ben.hear(&to_ben);

    // Ben's second note comes without his first, as when a bloom filter says we have it.
    let changes = ben.doc.get_changes(&[]);
    let first_note = changes[changes.len() - 2].hash();
    let second = changes[changes.len() - 1].raw_bytes().to_vec();
    let from_ben = with_only(ben.say().unwrap(), vec![second]);
    ben.state.sent_hashes.remove(&first_note);
    let to_ben = receive(&mut actor, ben.conn, from_ben, now);
    assert!(actor.is_waiting(), "both are still catching up");
    assert!(
        actor
            .document()
            .get(ROOT, "ben's second")
            .unwrap()
            .is_none()
    );
    assert_eq!(
        ben.hear(&to_ben),
        1,
        "Ben brought changes but still lacks one here: he is answered, with what we need"
    );

    cleo.hear(&first);
    cleo.hear(&to_cleo);
    let mut peers = [ben, cleo];
    settle(&mut actor, &mut peers, now);
    assert!(
        actor
            .document()
            .get(ROOT, "ben's second")
            .unwrap()
            .is_some()
    );
    for peer in &peers {
        assert_eq!(sorted_heads(&peer.doc), sorted_heads(actor.document()));
    }
}

#[test]
fn a_laptop_that_dialled_us_is_answered_as_usual_once_it_has_caught_up_on_the_connection() {
    let now = UnixTimestamp::now();
    let (mut actor, conns, _) =
        actor_sharing(&[("ben", dialled_us()), ("cleo", dialled_us())], now);
    for k in 0..9 {
        local_change(&mut actor, &format!("shared {k}"), now);
    }
    let mut peers = [Peer::new(conns[0], None), Peer::new(conns[1], None)];
    settle(&mut actor, &mut peers, now);
    let [mut ben, mut cleo] = peers;
    assert!(ben.has("shared 8") && cleo.has("shared 8"));

    // Both write while connected; Cleo's message announces her note without it, and waits
    // for our answer.
    put(&mut ben, "ben's note");
    put(&mut cleo, "cleo's note");
    let cleo_says = cleo.say().unwrap();
    let to_cleo = receive(&mut actor, cleo.conn, with_only(cleo_says, Vec::new()), now);
    let to_ben = receive(
        &mut actor,
        ben.conn,
        with_only(ben.say().unwrap(), Vec::new()),
        now,
    );
    assert_eq!(
        sent(&to_cleo, cleo.conn).len() + sent(&to_ben, cleo.conn).len(),
        1,
        "Cleo is answered"
    );
    assert_eq!(sent(&to_ben, ben.conn).len(), 1, "Ben is answered");
}

#[test]
fn a_laptop_that_dialled_us_and_came_back_without_changes_gets_what_we_need() {
    let now = UnixTimestamp::now();
    let (mut actor, conns, first) =
        actor_sharing(&[("ben", dialled_us()), ("cleo", dialled_us())], now);
    local_change(&mut actor, "sam's note", now);
    let mut ben = Peer::new(conns[0], Some("ben's note"));
    let mut cleo = Peer::new(conns[1], Some("cleo's note"));
    receive(&mut actor, ben.conn, ben.say().unwrap(), now);
    receive(&mut actor, cleo.conn, cleo.say().unwrap(), now);

    // Ben has our first message, but his answer comes without his note, as when our bloom
    // filter makes it look as if we had it already.
    assert_eq!(ben.hear(&first), 1);
    let from_ben = with_only(ben.say().unwrap(), Vec::new());
    ben.state.sent_hashes.clear();
    let to_ben = receive(&mut actor, ben.conn, from_ben, now);
    let to_ben = sent(&to_ben, ben.conn);
    assert_eq!(to_ben.len(), 1, "Ben hears from us again");
    let message = Message::decode(&to_ben[0]).unwrap();
    assert!(message.changes.is_empty(), "without changes");
    assert!(!message.need.is_empty(), "saying what we need");
    ben.doc
        .receive_sync_message(&mut ben.state, message)
        .unwrap();

    // Ben sends his note; once Cleo has sent hers, each gets everything.
    let after_ben = receive(&mut actor, ben.conn, ben.say().unwrap(), now);
    assert!(actor.document().get(ROOT, "ben's note").unwrap().is_some());
    assert!(sent(&after_ben, ben.conn).is_empty(), "Ben waits for Cleo");
    assert_eq!(cleo.hear(&first), 1);
    let after_cleo = receive(&mut actor, cleo.conn, cleo.say().unwrap(), now);
    assert_eq!(ben.hear(&after_cleo), 1);
    assert_eq!(cleo.hear(&after_cleo), 1);
    assert!(ben.has("sam's note") && ben.has("cleo's note"));
    assert!(cleo.has("sam's note") && cleo.has("ben's note"));
    let mut peers = [ben, cleo];
    settle(&mut actor, &mut peers, now);
    for peer in &peers {
        assert_eq!(sorted_heads(&peer.doc), sorted_heads(actor.document()));
    }
}

#[test]
fn a_laptop_that_dialled_us_and_stalled_after_our_message_without_changes_then_gets_ours() {
    let start = UnixTimestamp::now();
    let mut sams = Automerge::new();
    sams.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "sam's note", true))
        .unwrap();
    let mut ben = Peer::new(ConnectionId::new(), Some("ben's note"));
    let args = SpawnArgs {
        local_peer_id: "local".into(),
        actor_id: DocumentActorId::new(),
        document_id: DocumentId::new(&mut rand::rng()),
        initial_content: Some(sams),
        initial_connections: [(ben.conn, ("ben".into(), None))].into_iter().collect(),
    };
    let (mut actor, result) = DocumentActor::new(start, args);
    receive(&mut actor, ben.conn, ben.say().unwrap(), start);
    let mut first = DocActorResult::new();
    for task in &result.io_tasks {
        if let DocumentIoTask::CheckSharePolicy { .. } = &task.action {
            let more = actor
                .handle_io_complete(
                    start,
                    IoResult {
                        task_id: task.task_id,
                        payload: DocumentIoResult::CheckSharePolicy(dialled_us()),
                    },
                )
                .unwrap();
            first.outgoing_messages.extend(more.outgoing_messages);
        }
    }
    assert_eq!(ben.hear(&first), 1);
    assert!(!ben.has("sam's note"), "our message without changes");

    // Ben never sends his note; when he is no longer waited for, he gets ours.
    let tick = actor
        .handle_tick(start + DocumentActor::CATCH_UP_STALL)
        .unwrap();
    assert_eq!(ben.hear(&tick), 1);
    assert!(ben.has("sam's note"));
}
