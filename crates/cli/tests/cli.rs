//! The `commonground` binary, run as a person or a script would: real processes, real data
//! folders (temporary), JSON in and out.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_commonground");

fn cg(data: &Path, args: &[&str]) -> Output {
    cg_with_stdin(data, args, "")
}

fn cg_with_stdin(data: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[track_caller]
fn ok(o: Output) -> String {
    assert!(o.status.success(), "failed: {}\n{}", stderr(&o), stdout(&o));
    stdout(&o)
}

/// Asserts a failure with exactly one line on stderr, and returns that line.
#[track_caller]
fn fails_with_one_line(o: &Output) -> String {
    assert!(!o.status.success(), "should have failed: {}", stdout(o));
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    err.trim_end().to_owned()
}

fn new_workshop(data: &Path, title: &str, name: &str) -> String {
    let out =
        ok(cg(data, &["new", "--title", title, "--name", name, "--purpose", "Agree how we work together."]));
    let id = out.lines().next().unwrap().to_owned();
    assert_eq!(id.len(), 36, "{out}");
    id
}

fn snapshot(data: &Path, workshop: &str) -> Value {
    serde_json::from_str(&ok(cg(data, &["show", workshop, "--json"]))).unwrap()
}

fn add_note_json(prompt: &str, text: &str) -> String {
    serde_json::json!({
        "type": "add_note", "prompt": prompt, "text": text, "colour": "sun",
        "x": 10.0, "y": 20.0, "private": false, "anonymous": false,
    })
    .to_string()
}

fn first_prompt(snap: &Value) -> String {
    snap["board"]["prompts"][0]["id"].as_str().unwrap().to_owned()
}

#[test]
fn new_exec_show_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = new_workshop(&data, "Living Well design team", "Sam");
    let prefix = &id[..8];

    let snap = snapshot(&data, prefix);
    assert_eq!(snap["meta"]["title"], "Living Well design team");
    let prompt = first_prompt(&snap);

    let reply = ok(cg(&data, &["exec", prefix, &add_note_json(&prompt, "Be kind to each other")]));
    assert_eq!(reply.lines().count(), 1);
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["type"], "created");
    let note = reply["id"].as_str().unwrap().to_owned();
    let votes = serde_json::json!({"type": "set_votes", "note": note, "dots": 2}).to_string();
    assert_eq!(ok(cg(&data, &["exec", &id, &votes])).trim(), r#"{"type":"done"}"#);

    let text = ok(cg(&data, &["show", prefix]));
    assert_eq!(
        text,
        r#"Living Well design team
Purpose: Agree how we work together.
Phase: Welcome
You are Sam.

Ground rules
  1. We use first names only, with no titles or job roles.
  2. Everyone's experience counts equally.
  3. Challenge ideas, not people.
  4. It's OK to pass, and OK to take a break.
  5. What's shared here stays here, unless we all agree otherwise.

Who is here (1)
  Sam (blue circle, facilitator, you)

Board
  Our ideas
    "Be kind to each other" (Sam, 2 dots, 2 yours)
  You have 3 dots left to place.

Values
  None drafted yet.

Open challenges
  None.
"#
    );

    let status = ok(cg(&data, &["status"]));
    assert!(
        status.contains(&format!("1 workshop on this laptop.\n\n{id}\n  Living Well design team\n")),
        "{status}"
    );
    assert!(status.contains("  Phase: Welcome · 1 person\n  You are Sam (facilitator).\n"), "{status}");
    assert!(status.contains("  Storage: all files healthy.\n"), "{status}");
}

#[test]
fn exec_reads_a_batch_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = new_workshop(&data, "Batch", "Ali");
    let prompt = first_prompt(&snapshot(&data, &id));
    let batch = format!(
        "{}\n\n{}\n{}\n",
        add_note_json(&prompt, "One"),
        r#"{"type":"set_phase","phase":"share"}"#,
        add_note_json(&prompt, "Two"),
    );
    let out = ok(cg_with_stdin(&data, &["exec", &id, "-"], &batch));
    let replies: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let types: Vec<&str> = replies.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["created", "done", "created"]);
    let snap = snapshot(&data, &id);
    assert_eq!(snap["meta"]["phase"], "share");
    assert_eq!(snap["board"]["prompts"][0]["notes"].as_array().unwrap().len(), 2);
}

#[test]
fn a_refused_command_is_reported_and_the_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = new_workshop(&data, "Refusals", "Ali");
    let prompt = first_prompt(&snapshot(&data, &id));
    let batch = format!(
        "{}\n{}\n",
        r#"{"type":"set_votes","note":"00000000-0000-4000-8000-000000000000","dots":1}"#,
        add_note_json(&prompt, "Still added"),
    );
    let out = cg_with_stdin(&data, &["exec", &id, "-"], &batch);
    let err = fails_with_one_line(&out);
    let err: Value = serde_json::from_str(&err).unwrap();
    assert_eq!(err["kind"], "not_found");
    assert!(err["message"].as_str().unwrap().len() > 10);
    assert_eq!(stdout(&out).lines().count(), 1);
    assert_eq!(snapshot(&data, &id)["board"]["prompts"][0]["notes"].as_array().unwrap().len(), 1);
}

#[test]
fn a_malformed_line_changes_nothing() {
    // Guards "nothing is written on error": the whole batch is parsed before any of it runs.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = new_workshop(&data, "Malformed", "Ali");
    let before = snapshot(&data, &id);
    let prompt = first_prompt(&before);
    for bad in [r#"{"type":"add_note""#, r#"{"type":"teleport"}"#, r#"{"type":"add_note"}"#, "not json"] {
        let batch = format!("{}\n{bad}\n", add_note_json(&prompt, "Should not appear"));
        let out = cg_with_stdin(&data, &["exec", &id, "-"], &batch);
        let err: Value = serde_json::from_str(&fails_with_one_line(&out)).unwrap();
        assert_eq!(err["kind"], "bad_command");
        assert!(err["message"].as_str().unwrap().starts_with("Line 2 isn't a command"), "{err}");
        assert_eq!(stdout(&out), "");
    }
    let out = cg(&data, &["exec", &id, r#"{"type":"teleport"}"#]);
    let err: Value = serde_json::from_str(&fails_with_one_line(&out)).unwrap();
    assert_eq!(
        err["message"],
        r#"That isn't a command Common Ground understands (there is no command called "teleport"). Commands look like {"type":"get_snapshot"}."#
    );
    assert_eq!(snapshot(&data, &id), before);
}

#[test]
fn a_titled_name_is_refused_with_a_suggestion_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = cg(&data, &["new", "--title", "Living Well", "--name", "Dr Sarah"]);
    let err = fails_with_one_line(&out);
    assert_eq!(
        err,
        r#"commonground: We use first names only here, with no titles, so everyone is equal in the room. How about "Sarah"?"#
    );
    assert!(!data.exists(), "the data folder was created");

    // In a folder that already holds a workshop, a refused one leaves no trace either.
    new_workshop(&data, "First", "Sarah");
    let out = cg(&data, &["new", "--title", "  ", "--name", "Sarah"]);
    fails_with_one_line(&out);
    assert_eq!(std::fs::read_dir(data.join("workshops")).unwrap().count(), 1);
}

#[test]
fn unknown_and_ambiguous_workshops_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = cg(&data, &["show", "abcd"]);
    assert!(fails_with_one_line(&out).contains("There are no workshops on this laptop yet"));
    assert!(!data.exists(), "show created the data folder");

    // Make workshops until two ids start with the same character (at most 17 by pigeonhole).
    let mut ids: Vec<String> = Vec::new();
    let shared = loop {
        let id = new_workshop(&data, "Another", "Sam");
        let first = id[..1].to_owned();
        if ids.iter().any(|other| other.starts_with(&first)) {
            break first;
        }
        ids.push(id);
    };
    let out = cg(&data, &["show", &shared]);
    let err = fails_with_one_line(&out);
    assert!(
        err.starts_with(&format!("commonground: \"{shared}\" is the start of 2 workshop ids (")),
        "{err}"
    );
    assert!(err.ends_with("type more of the one you mean."), "{err}");

    let out = cg(&data, &["show", "zzzz"]);
    assert_eq!(
        fails_with_one_line(&out),
        "commonground: There is no workshop zzzz on this laptop. `commonground status` lists them."
    );
    let out = cg(&data, &["exec", "zzzz", r#"{"type":"get_snapshot"}"#]);
    let err: Value = serde_json::from_str(&fails_with_one_line(&out)).unwrap();
    assert_eq!(err["kind"], "workshop_not_found");
}

#[test]
fn bad_arguments_get_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = cg(&data, &["new", "--title", "T", "--name", "Sam", "--colour", "brown"]);
    assert_eq!(
        fails_with_one_line(&out),
        "commonground: Invalid value 'brown' for '--colour <COLOUR>': there is no colour \"brown\"; \
         choose one of sun, sky, leaf, rose, lilac, sand, mint, peach. See `commonground --help`."
    );
    assert_eq!(out.status.code(), Some(2));
    let out = cg(&data, &["frobnicate"]);
    assert!(fails_with_one_line(&out).contains("'frobnicate'"));
    let out = cg(&data, &["new", "--title", "T"]);
    assert!(fails_with_one_line(&out).contains("--name"));
    assert!(!data.exists());
}

#[test]
fn remove_participant_explains_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = new_workshop(&data, "Removals", "Sam");
    let out = cg(&data, &["remove-participant", &id, "Nobody"]);
    assert_eq!(
        fails_with_one_line(&out),
        "commonground: Nobody called \"Nobody\" is in this workshop. Check the name with `commonground show`."
    );
    // The only facilitator can't remove themselves: the workshop says why, in one line.
    let before = snapshot(&data, &id);
    let out = cg(&data, &["remove-participant", &id, "sam"]);
    fails_with_one_line(&out);
    assert_eq!(snapshot(&data, &id), before);
}
