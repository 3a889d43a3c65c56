//! `exec`: commands from the shared contract, as JSON, one per line.
//!
//! Every line is parsed before any command runs, so a batch with a typing mistake on line 40
//! changes nothing. Then each command runs in order; its reply is printed as one line of JSON
//! on stdout, or its refusal as one `{kind, message}` line on stderr, and the batch goes on:
//! a refused command changes nothing, and the exit status says that one was refused. A
//! storage failure stops the batch, since later commands may depend on the lost one.

use std::io::Read;

use commonground_api::{ApiError, Command};
use commonground_node::{Dispatched, NetError, Node};
use commonground_workshop::WorkshopId;

use crate::error_json;

/// The most standard input `exec -` reads: far more than any real batch.
const MAX_INPUT: u64 = 16 * 1024 * 1024;

/// The commands in `arg`: one JSON command, or `-` for standard input.
pub(crate) fn parse(arg: &str) -> anyhow::Result<Vec<Command>> {
    if arg == "-" {
        let mut input = String::new();
        let read = std::io::stdin().lock().take(MAX_INPUT + 1).read_to_string(&mut input);
        if let Err(e) = read {
            return Err(ApiError::new(
                "bad_input",
                format!("Couldn't read the commands from standard input ({e})."),
            )
            .into());
        }
        if input.len() as u64 > MAX_INPUT {
            return Err(ApiError::new(
                "bad_input",
                "That's more than 16 MB of commands; please send them in smaller batches.",
            )
            .into());
        }
        let mut commands = Vec::new();
        for (number, line) in input.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            commands.push(parse_one(line, Some(number + 1))?);
        }
        if commands.is_empty() {
            return Err(ApiError::new("bad_input", "There were no commands on standard input.").into());
        }
        Ok(commands)
    } else {
        Ok(vec![parse_one(arg, None)?])
    }
}

pub(crate) fn parse_one(text: &str, line: Option<usize>) -> Result<Command, ApiError> {
    serde_json::from_str(text).map_err(|e| {
        let place = line.map_or_else(|| "That".to_owned(), |n| format!("Line {n}"));
        let why = e.to_string();
        // serde lists every command type after an unknown one: name just the unknown one.
        let why = match why.strip_prefix("unknown variant `").and_then(|rest| rest.split_once('`')) {
            Some((name, _)) => format!("there is no command called \"{name}\""),
            None => why,
        };
        ApiError::new(
            "bad_command",
            format!(
                "{place} isn't a command Common Ground understands ({why}). Commands look like {{\"type\":\"get_snapshot\"}}."
            ),
        )
    })
}

/// Runs the commands; true if every one was accepted.
pub(crate) async fn run(node: &Node, id: WorkshopId, commands: Vec<Command>) -> anyhow::Result<bool> {
    let mut all_ok = true;
    for command in commands {
        let dispatched = dispatch(node, id, command).await?;
        match dispatched.reply {
            Ok(reply) => println!("{}", serde_json::to_string(&reply)?),
            Err(refused) => {
                all_ok = false;
                eprintln!("{}", error_json(&refused.kind, &refused.message));
            }
        }
    }
    Ok(all_ok)
}

/// Runs one command. Removing someone goes through the network layer when this laptop holds
/// the workshop's keys, as `remove-participant` does: it also moves everyone else to a new
/// key that the removed person's laptops never get.
pub(crate) async fn dispatch(node: &Node, id: WorkshopId, command: Command) -> anyhow::Result<Dispatched> {
    let dispatched = match command {
        Command::RemoveParticipant { participant } => match node.remove_participant(id, participant).await {
            Err(NetError::NotAMember(_)) => node.dispatch(id, command).await,
            other => return other.map_err(crate::net::net_error),
        },
        command => node.dispatch(id, command).await,
    };
    dispatched.map_err(|e| ApiError::new(e.kind(), e.to_string()).into())
}

/// Runs one line read by `serve --exec` and returns the one line of JSON to print: the
/// reply, or the refusal or failure as `{kind, message}`. Serving goes on either way: the
/// script reading the answers decides what a failure means for it.
pub(crate) async fn run_line(app: &commonground_app::App, id: WorkshopId, line: &str) -> String {
    let command = match parse_one(line, None) {
        Ok(command) => command,
        Err(refused) => return error_json(&refused.kind, &refused.message),
    };
    // Through the app, so pages open on this laptop hear of the change at once.
    let answer = match app.dispatch(id, command).await.map_err(anyhow::Error::new) {
        Ok(Dispatched { reply: Ok(reply), .. }) => serde_json::to_string(&reply).map_err(anyhow::Error::from),
        Ok(Dispatched { reply: Err(refused), .. }) => Ok(error_json(&refused.kind, &refused.message)),
        Err(e) => Err(e),
    };
    answer.unwrap_or_else(|e| match e.downcast_ref::<ApiError>() {
        Some(failed) => error_json(&failed.kind, &failed.message),
        None => error_json("error", &crate::one_line(&e.to_string())),
    })
}
