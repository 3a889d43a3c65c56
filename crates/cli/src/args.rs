//! The command line, with clap.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use clap::{Parser, Subcommand};
use commonground_workshop::Colour;

/// A headless Common Ground node: workshops from the terminal.
#[derive(Debug, Parser)]
#[command(
    name = "commonground",
    version,
    about = "A headless Common Ground node: workshops from the terminal."
)]
pub(crate) struct Cli {
    /// The data folder (default: the platform's, e.g. ~/.local/share/commonground).
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Sub {
    /// Create a workshop, with you as its facilitator. Prints its id.
    New {
        /// The workshop's title.
        #[arg(long)]
        title: String,
        /// Your first name.
        #[arg(long)]
        name: String,
        /// What the group is here to do.
        #[arg(long)]
        purpose: Option<String>,
        /// Your colour: sun, sky, leaf, rose, lilac, sand, mint or peach.
        #[arg(long, default_value = "sky")]
        colour: ColourArg,
    },
    /// Show the invite link, a 6-digit code and (with --qr) a QR code, and let people join
    /// until the code expires (about 2 minutes) or Ctrl-C.
    Invite {
        /// The workshop: its id, or the start of it.
        workshop: String,
        /// Also draw the link as a QR code in the terminal.
        #[arg(long)]
        qr: bool,
        /// Where to listen for the laptops joining.
        #[arg(long, value_name = "ADDR", default_value = crate::net::DEFAULT_LISTEN)]
        listen: SocketAddr,
    },
    /// Join a workshop with an invite link, or with the 6-digit code and the address shown
    /// beside it on the facilitator's laptop.
    Join {
        /// The invite link (commonground://join/…) or the 6-digit code.
        #[arg(value_name = "INVITE|CODE")]
        invite: String,
        /// Your first name.
        #[arg(long)]
        name: String,
        /// The facilitator's laptop's address, for a code (e.g. 192.168.1.20:41235).
        #[arg(long, value_name = "ADDR")]
        address: Option<SocketAddr>,
        /// Your colour: sun, sky, leaf, rose, lilac, sand, mint or peach.
        #[arg(long, default_value = "sky")]
        colour: ColourArg,
    },
    /// Sync with other laptops until Ctrl-C: finds the workshop's other laptops on the local
    /// network by itself (mDNS and a broadcast beacon), and logs laptops coming and going.
    Serve {
        /// Where to listen for other laptops.
        #[arg(long, value_name = "ADDR", default_value = crate::net::DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Also keep a connection to the laptop at this address (may be repeated): for
        /// networks where laptops can't find each other, and for a server elsewhere.
        #[arg(long, value_name = "ADDR")]
        connect: Vec<SocketAddr>,
        /// Don't look for laptops (or let them find this one) with mDNS.
        #[arg(long)]
        no_mdns: bool,
        /// Don't look for laptops (or let them find this one) with the broadcast beacon.
        #[arg(long)]
        no_beacon: bool,
        /// The UDP port of the broadcast beacon (every laptop in the room must use the same).
        #[arg(long, value_name = "PORT", default_value_t = commonground_node::DEFAULT_BEACON_PORT)]
        beacon_port: u16,
        /// Also run commands for this workshop from standard input while serving, one JSON
        /// command a line (as `exec -`); each reply, or refusal as {kind, message}, is printed
        /// as one line of JSON. For scripts: `exec` can't open the data folder while `serve`
        /// has it.
        #[arg(long, value_name = "WORKSHOP")]
        exec: Option<String>,
        /// Also open the page for phones and tablets here (e.g. 0.0.0.0:41236), and print its
        /// addresses: one for this laptop's own browser, and one per workshop to show as a QR
        /// code (it lets people in, like an invite).
        #[arg(long, value_name = "ADDR")]
        web: Option<SocketAddr>,
        /// Also sync every workshop through this shared folder (OneDrive, Nextcloud,
        /// Syncthing, a USB stick), for carrying on from home. It only ever holds encrypted
        /// changes.
        #[arg(long, value_name = "DIR")]
        folder: Option<std::path::PathBuf>,
    },
    /// Run commands from the shared contract: one JSON command, or `-` for one per line on
    /// standard input. Prints each reply as a line of JSON.
    Exec {
        /// The workshop: its id, or the start of it.
        workshop: String,
        /// A JSON command, or `-` to read them from standard input.
        #[arg(value_name = "JSON|-", allow_hyphen_values = true)]
        command: String,
    },
    /// Show a workshop as it is now.
    Show {
        /// The workshop: its id, or the start of it.
        workshop: String,
        /// Print everything as JSON (the contract's Snapshot) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the workshops on this laptop and how they are.
    Status,
    /// Remove someone from a workshop (you must be a facilitator).
    RemoveParticipant {
        /// The workshop: its id, or the start of it.
        workshop: String,
        /// Who: their participant id (or the start of it), or their first name.
        participant: String,
    },
    /// Export the agreed values document: Markdown, an accessible web page, a tagged PDF, a
    /// Word document, an easy-read version or JSON.
    Export {
        /// The workshop: its id, or the start of it.
        workshop: String,
        /// md, html, pdf, docx, easy-read (a web page in large type), easy-read-md or json.
        #[arg(long, short = 'f', value_name = "FORMAT")]
        format: commonground_export::Format,
        /// The file to write. It is replaced whole, or not at all.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
    },
    /// Render a values document given as JSON on stdin (as `export --format json` writes it)
    /// in another format, to a file or to stdout. The desktop app makes its PDFs this way.
    Render {
        /// md, html, pdf, docx, easy-read, easy-read-md or json.
        #[arg(long, short = 'f', value_name = "FORMAT")]
        format: commonground_export::Format,
        /// The file to write (replaced whole, or not at all); stdout if not given.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// A colour as typed: its key (`sky`) or its plain name (`blue`), in any case.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColourArg(pub Colour);

impl FromStr for ColourArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_lowercase();
        Colour::ALL
            .iter()
            .find(|c| c.key() == wanted || c.label() == wanted)
            .map(|&c| ColourArg(c))
            .ok_or_else(|| {
                let keys: Vec<&str> = Colour::ALL.iter().map(|c| c.key()).collect();
                format!("there is no colour \"{}\"; choose one of {}", s.trim(), keys.join(", "))
            })
    }
}

/// Prints a usage error as one line (help and version print as usual).
pub(crate) fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = e.print();
        return ExitCode::from(2);
    }
    if e.kind() == ErrorKind::MissingRequiredArgument {
        if let Some(clap::error::ContextValue::Strings(missing)) = e.get(clap::error::ContextKind::InvalidArg)
        {
            eprintln!("commonground: Please also give {}. See `commonground --help`.", missing.join(" and "));
            return ExitCode::from(2);
        }
    }
    let rendered = e.render().to_string();
    let first = rendered.lines().find(|l| !l.trim().is_empty()).unwrap_or("that didn't make sense");
    let first = first.trim().strip_prefix("error: ").unwrap_or(first.trim());
    let mut message = first.to_owned();
    if let Some(first_char) = message.get(..1) {
        message = first_char.to_uppercase() + &message[1..];
    }
    if !message.ends_with('.') {
        message.push('.');
    }
    eprintln!("commonground: {message} See `commonground --help`.");
    ExitCode::from(2)
}
