//! `commonground export`, run as a person would: a real data folder, real files.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_commonground");

fn cg(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[track_caller]
fn ok(o: Output) -> (String, String) {
    let (out, err) = (String::from_utf8(o.stdout).unwrap(), String::from_utf8(o.stderr).unwrap());
    assert!(o.status.success(), "failed: {err}\n{out}");
    (out, err)
}

#[track_caller]
fn fails_with_one_line(o: &Output) -> String {
    assert!(!o.status.success(), "should have failed");
    let err = String::from_utf8(o.stderr.clone()).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    err.trim_end().to_owned()
}

/// A workshop with a note and a draft value, made through `new` and `exec`.
fn workshop(data: &Path) -> String {
    let (out, _) =
        ok(cg(data, &["new", "--title", "Living Well", "--name", "Amina", "--purpose", "Agree values."]));
    let id = out.lines().next().unwrap().to_owned();
    let (snap, _) = ok(cg(data, &["show", &id, "--json"]));
    let snap: Value = serde_json::from_str(&snap).unwrap();
    let prompt = snap["board"]["prompts"][0]["id"].as_str().unwrap();
    let note = serde_json::json!({
        "type": "add_note", "prompt": prompt, "text": "Being listened to", "colour": "sun",
        "x": 1.0, "y": 1.0, "private": false, "anonymous": false,
    });
    let (reply, _) = ok(cg(data, &["exec", &id, &note.to_string()]));
    let reply: Value = serde_json::from_str(reply.trim()).unwrap();
    let note_id = reply["id"].as_str().unwrap_or_else(|| panic!("no id in {reply}"));
    let draft =
        serde_json::json!({ "type": "draft_value", "statement": "We listen first", "sources": [note_id] });
    ok(cg(data, &["exec", &id, &draft.to_string()]));
    id
}

/// Guards the export command: every format saves a file, with progress for the slow ones.
#[test]
fn export_writes_each_format_with_progress() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = workshop(&data);
    for (format, name) in [
        ("md", "values.md"),
        ("html", "values.html"),
        ("json", "values.json"),
        ("pdf", "values.pdf"),
        ("docx", "values.docx"),
        ("easy-read", "easy.html"),
    ] {
        let file = dir.path().join(name);
        let (_, err) = ok(cg(&data, &["export", &id[..8], "--format", format, "-o", file.to_str().unwrap()]));
        let bytes = std::fs::read(&file).unwrap();
        assert!(!bytes.is_empty(), "{format}: empty file");
        assert!(err.contains("Saved"), "{format}: {err}");
        if format == "pdf" {
            assert!(err.starts_with("Building the PDF…"), "{err}");
            assert!(err.contains("page"), "{err}");
            assert!(bytes.starts_with(b"%PDF-"));
        }
    }
    let md = std::fs::read_to_string(dir.path().join("values.md")).unwrap();
    assert!(md.contains("# Living Well") && md.contains("### Draft 1: We listen first"), "{md}");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("values.json")).unwrap()).unwrap();
    assert_eq!(json["format"], "commonground.values-document/1");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

/// Guards the refusals: one kind line, a non-zero exit, and nothing written.
#[test]
fn export_refusals_are_one_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = workshop(&data);
    let file = dir.path().join("values.txt");
    let err =
        fails_with_one_line(&cg(&data, &["export", &id, "--format", "rtf", "-o", file.to_str().unwrap()]));
    assert!(err.contains("no format \"rtf\""), "{err}");
    let missing = dir.path().join("nowhere").join("values.md");
    let err =
        fails_with_one_line(&cg(&data, &["export", &id, "--format", "md", "-o", missing.to_str().unwrap()]));
    assert!(err.contains("There is no folder"), "{err}");
    let err = fails_with_one_line(&cg(
        &data,
        &["export", "ffffffff", "--format", "md", "-o", file.to_str().unwrap()],
    ));
    assert!(err.contains("There is no workshop"), "{err}");
    let err = fails_with_one_line(&cg(
        &data,
        &["export", &id, "--format", "md", "-o", dir.path().to_str().unwrap()],
    ));
    assert!(err.contains("is a folder"), "{err}");
    assert!(!file.exists() && !missing.exists());
}

/// `render`: what the desktop app asks for its PDFs — a document as JSON on stdin (as `export
/// --format json` writes it), the PDF on stdout; and a kind, one-line refusal for anything else.
#[test]
fn render_turns_a_document_on_stdin_into_a_pdf_on_stdout() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = workshop(&data);
    let json_file = dir.path().join("values.json");
    ok(cg(&data, &["export", &id, "--format", "json", "-o", json_file.to_str().unwrap()]));
    let json = std::fs::read(&json_file).unwrap();

    let render = |input: &[u8]| {
        let mut child = Command::new(BIN)
            .args(["render", "--format", "pdf"])
            .env("RUST_LOG", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = render(&json);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.starts_with(b"%PDF-"), "a PDF on stdout");
    assert!(
        out.stderr.is_empty() || !String::from_utf8_lossy(&out.stderr).contains('{'),
        "no data on stderr"
    );

    let refused = render(b"{\"not\": \"a document\"}");
    let message = fails_with_one_line(&refused);
    assert!(message.contains("isn't a values document"), "{message}");
    assert!(refused.stdout.is_empty());
}
