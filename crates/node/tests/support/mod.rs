//! Helpers shared by the node's integration tests.
#![allow(dead_code)]

use commonground_api::{Command, Reply, Snapshot};
use commonground_node::Node;
use commonground_workshop::{Colour, NewWorkshop, NoteId, NoteView, PromptId, WorkshopId};

pub fn new_workshop() -> NewWorkshop {
    NewWorkshop {
        title: "Living Well design team".to_owned(),
        purpose: "Design the service together.".to_owned(),
        facilitator_name: "Sarah".to_owned(),
        facilitator_colour: Colour::Leaf,
        ground_rules: None,
    }
}

pub async fn snapshot(node: &Node, id: WorkshopId) -> Snapshot {
    match node.dispatch(id, Command::GetSnapshot).await.unwrap().reply.unwrap() {
        Reply::Snapshot(s) => *s,
        other => panic!("unexpected reply {other:?}"),
    }
}

pub async fn first_prompt(node: &Node, id: WorkshopId) -> PromptId {
    snapshot(node, id).await.board.prompts[0].id
}

pub fn add_note_command(prompt: PromptId, text: &str, anonymous: bool) -> Command {
    Command::AddNote {
        prompt,
        text: text.to_owned(),
        colour: Colour::Sun,
        x: 1.0,
        y: 2.0,
        private: false,
        anonymous,
    }
}

pub async fn add_note(node: &Node, id: WorkshopId, prompt: PromptId, text: &str, anonymous: bool) -> NoteId {
    match node.dispatch(id, add_note_command(prompt, text, anonymous)).await.unwrap().reply.unwrap() {
        Reply::Created { id } => id.parse().unwrap(),
        other => panic!("unexpected reply {other:?}"),
    }
}

pub fn notes(snapshot: &Snapshot) -> Vec<NoteView> {
    let mut notes: Vec<NoteView> = snapshot.board.prompts.iter().flat_map(|p| p.notes.clone()).collect();
    notes.extend(snapshot.board.unplaced.clone());
    notes
}
