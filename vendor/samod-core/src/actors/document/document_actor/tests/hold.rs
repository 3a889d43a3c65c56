//! Common Ground patch: a step that only took in other peers' messages while more tasks were
//! queued (`DocumentActor::set_more_queued`) is held, and the held work (sync messages and
//! storing the document) is done by the run's last task, or before the actor stops.

use super::*;
use crate::io::{StorageResult, StorageTask};
use automerge::transaction::Transactable;

fn puts(result: &DocActorResult) -> Vec<IoTaskId> {
    result
        .io_tasks
        .iter()
        .filter(|task| {
            matches!(
                task.action,
                DocumentIoTask::Storage(StorageTask::Put { .. })
            )
        })
        .map(|task| task.task_id)
        .collect()
}

fn receive(actor: &mut DocumentActor, conn: ConnectionId, message: SyncMessage) -> DocActorResult {
    actor
        .handle_message(
            UnixTimestamp::now(),
            HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
                connection_id: conn,
                message: DocMessage::Sync(message),
                received_at: UnixTimestamp::now(),
            }),
        )
        .unwrap()
}

/// A ready actor with one read-write peer, after the peer's first exchange.
fn connected() -> (DocumentActor, ConnectionId) {
    let (mut actor, _, conn, task_id) = new_actor(true, None);
    complete_policy(&mut actor, task_id, ShareConfig::read_write());
    (actor, conn)
}

#[test]
fn a_held_step_is_finished_by_the_last_task_of_the_run() {
    let (mut actor, conn) = connected();
    actor.set_more_queued(true);
    let held = receive(&mut actor, conn, incoming_changes(true));
    assert!(
        actor.document().get(ROOT, "remote").unwrap().is_some(),
        "the changes are applied"
    );
    assert!(
        puts(&held).is_empty(),
        "storing waits for the run's last task"
    );
    assert!(
        !has_network_output(&held),
        "answering waits for the run's last task"
    );

    // The run's last task: a read, which changes nothing itself.
    actor.set_more_queued(false);
    let last = actor
        .with_document(UnixTimestamp::now(), |_| ())
        .unwrap()
        .actor_result;
    assert!(!puts(&last).is_empty(), "the held changes are stored");
    assert!(has_network_output(&last), "the peer is answered");
}

#[test]
fn a_held_step_is_stored_before_the_actor_stops() {
    let (mut actor, conn) = connected();
    actor.set_more_queued(true);
    let held = receive(&mut actor, conn, incoming_changes(true));
    assert!(puts(&held).is_empty());

    // The run's last task is the hub telling the actor to stop.
    actor.set_more_queued(false);
    let stopping = actor
        .handle_message(
            UnixTimestamp::now(),
            HubToDocMsg(HubToDocMsgPayload::Terminate),
        )
        .unwrap();
    let pending = puts(&stopping);
    assert!(
        !pending.is_empty(),
        "what was held is stored before stopping"
    );
    assert!(!stopping.stopped, "the actor waits for that write");
    assert!(!actor.is_stopped());

    let mut last = DocActorResult::new();
    for task_id in pending {
        last = actor
            .handle_io_complete(
                UnixTimestamp::now(),
                IoResult {
                    task_id,
                    payload: DocumentIoResult::Storage(StorageResult::Put),
                },
            )
            .unwrap();
    }
    assert!(
        last.stopped,
        "the actor stops once the held changes are on disk"
    );
    assert!(actor.is_stopped());
    assert!(
        last.outgoing_messages
            .iter()
            .any(|msg| matches!(msg.0, DocToHubMsgPayload::Terminated)),
        "and tells the hub"
    );
}

#[test]
fn a_stop_while_more_tasks_are_queued_still_stores_what_was_held() {
    let (mut actor, conn) = connected();
    actor.set_more_queued(true);
    receive(&mut actor, conn, incoming_changes(true));
    // The runner says more is queued even as the stop comes (the stop isn't last).
    actor.set_more_queued(true);
    let stopping = actor
        .handle_message(
            UnixTimestamp::now(),
            HubToDocMsg(HubToDocMsgPayload::Terminate),
        )
        .unwrap();
    assert!(
        !puts(&stopping).is_empty(),
        "stopping never leaves held changes unstored"
    );
}

#[test]
fn a_local_change_is_never_held() {
    let (mut actor, _) = connected();
    actor.set_more_queued(true);
    let result = actor
        .with_document(UnixTimestamp::now(), |doc| {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "mine", true))
                .unwrap();
        })
        .unwrap()
        .actor_result;
    assert!(
        !puts(&result).is_empty(),
        "a local change is stored in its own step"
    );
    assert!(has_network_output(&result), "and sent at once");
}
