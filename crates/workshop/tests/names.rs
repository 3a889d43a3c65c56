//! The first-name rule (DESIGN.md section 2: first names only, no titles, letters in any
//! script), checked against names people really type.

use commonground_workshop::{FirstName, NameProblem};
use proptest::prelude::*;

/// What a row of the table expects.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Accepted, and shown as this.
    Accepted(&'static str),
    /// Refused with this code, suggesting this name instead.
    Refused(&'static str, Option<&'static str>),
}

use Want::{Accepted as Yes, Refused as No};

/// A 30-character name, the longest accepted.
const THIRTY: &str = "Abcdefghijklmnopqrstuvwxyzabcd";
/// A 31-character name, one too long.
const THIRTY_ONE: &str = "Abcdefghijklmnopqrstuvwxyzabcde";

const NAMES: &[(&str, Want)] = &[
    // Accepted: Latin script, with and without accents.
    ("Sarah", Yes("Sarah")),
    ("Mary Ann", Yes("Mary Ann")),
    ("Jean-Luc", Yes("Jean-Luc")),
    ("O'Neill", Yes("O'Neill")),
    ("D’Arcy", Yes("D’Arcy")),
    ("Siobhán", Yes("Siobhán")),
    ("Zoë", Yes("Zoë")),
    ("José", Yes("José")),
    ("Łukasz", Yes("Łukasz")),
    ("Nguyễn Anh", Yes("Nguyễn Anh")),
    ("Ngozi", Yes("Ngozi")),
    ("Aroha", Yes("Aroha")),
    ("Kaʻiulani", Yes("Kaʻiulani")),
    ("Gal·la", Yes("Gal·la")),
    ("Anna-Maria Luisa-Fernanda", Yes("Anna-Maria Luisa-Fernanda")),
    (THIRTY, Yes(THIRTY)),
    // Accepted: other scripts.
    ("Αλέξανδρος", Yes("Αλέξανδρος")),
    ("Дмитрий", Yes("Дмитрий")),
    ("محمد", Yes("محمد")),
    ("علی\u{200C}رضا", Yes("علی\u{200C}رضا")),
    ("דוד", Yes("דוד")),
    ("ג׳ורג׳", Yes("ג׳ורג׳")),
    ("अनन्या", Yes("अनन्या")),
    ("प्रिया", Yes("प्रिया")),
    ("क्\u{200D}षमा", Yes("क्\u{200D}षमा")),
    ("美咲", Yes("美咲")),
    ("奈々", Yes("奈々")),
    ("芳\u{E0100}子", Yes("芳\u{E0100}子")),
    ("지민", Yes("지민")),
    ("สมชาย", Yes("สมชาย")),
    // Accepted: given names that are also titles somewhere.
    ("Dean", Yes("Dean")),
    ("Earl", Yes("Earl")),
    ("Duke", Yes("Duke")),
    ("Prince", Yes("Prince")),
    ("Major", Yes("Major")),
    ("Imam", Yes("Imam")),
    ("Bishop", Yes("Bishop")),
    ("pc lee", Yes("pc lee")),
    ("Ma", Yes("Ma")),
    ("Di", Yes("Di")),
    ("Col Smith", Yes("Col Smith")),
    ("Gen", Yes("Gen")),
    ("Hon Wai", Yes("Hon Wai")),
    ("Jo Ii", Yes("Jo Ii")),
    ("Sarah Nurse", Yes("Sarah Nurse")),
    // Accepted after tidying.
    ("  Sarah  ", Yes("Sarah")),
    ("Mary   Ann", Yes("Mary Ann")),
    ("\tMary\u{00A0}Ann\n", Yes("Mary Ann")),
    ("\u{FEFF}Sa\u{00AD}rah\u{200B}", Yes("Sarah")),
    ("Siobha\u{0301}n", Yes("Siobhán")),
    ("Zoe\u{0308}", Yes("Zoë")),
    ("Nguye\u{0302}\u{0303}n Anh", Yes("Nguyễn Anh")),
    // Titles in first position.
    ("Dr Sarah", No("title", Some("Sarah"))),
    ("dr. sarah", No("title", Some("sarah"))),
    ("DR SARAH", No("title", Some("SARAH"))),
    ("Dr.Sarah", No("title", Some("Sarah"))),
    ("Prof. Anna", No("title", Some("Anna"))),
    ("Prof Dr Anna", No("title", Some("Anna"))),
    ("Dr Sarah Jones PhD", No("title", Some("Sarah Jones"))),
    ("Mrs Patel", No("title", Some("Patel"))),
    ("MRS. Patel", No("title", Some("Patel"))),
    ("Mx Sam", No("title", Some("Sam"))),
    ("Nurse Jackie", No("title", Some("Jackie"))),
    ("Sister Mary", No("title", Some("Mary"))),
    ("Sr Mary", No("title", Some("Mary"))),
    ("Matron", No("title", None)),
    ("Nurse", No("title", None)),
    ("Doctor", No("title", None)),
    ("Consultant Amir", No("title", Some("Amir"))),
    ("Cllr Bob", No("title", Some("Bob"))),
    ("Rev Ann", No("title", Some("Ann"))),
    ("Sir Keith", No("title", Some("Keith"))),
    ("Sgt Lee", No("title", Some("Lee"))),
    ("DI Sarah", No("title", Some("Sarah"))),
    ("Major Tom", No("title", Some("Tom"))),
    ("Imam Ali", No("title", Some("Ali"))),
    ("Col. Mustard", No("title", Some("Mustard"))),
    ("Rt Hon Sarah", No("title", Some("Sarah"))),
    ("Señora Lucía", No("title", Some("Lucía"))),
    ("Dr Major", No("title", Some("Major"))),
    ("Dr Gen", No("title", Some("Gen"))),
    ("Gen. Lee", No("title", Some("Lee"))),
    ("Sheikh Ahmed", No("title", Some("Ahmed"))),
    ("Bishop Desmond", No("title", Some("Desmond"))),
    ("Dr Sarah2", No("title", None)),
    ("Dr Anna Maria Luisa", No("title", None)),
    // Letters after the name.
    ("Sarah PhD", No("post_nominal", Some("Sarah"))),
    ("Sarah phd", No("post_nominal", Some("Sarah"))),
    ("Sarah Ph.D.", No("post_nominal", Some("Sarah"))),
    ("Sarah, PhD", No("post_nominal", Some("Sarah"))),
    ("Sarah (PhD)", No("post_nominal", Some("Sarah"))),
    ("Tom MBE", No("post_nominal", Some("Tom"))),
    ("Sam MA", No("post_nominal", Some("Sam"))),
    ("Ann MRCPsych", No("post_nominal", Some("Ann"))),
    ("Sarah Jones RMN", No("post_nominal", Some("Sarah Jones"))),
    ("Tom Jr", No("post_nominal", Some("Tom"))),
    ("Dr PhD", No("title", None)),
    // Numbers, in any script.
    ("Sarah2", No("digits", None)),
    ("R2D2", No("digits", None)),
    ("Sam_1", No("digits", None)),
    ("Sarah٣", No("digits", None)),
    ("Sam²", No("digits", None)),
    // Emoji and symbols.
    ("Sam 😀", No("emoji", Some("Sam"))),
    ("❤️", No("emoji", None)),
    ("Sam👍🏽", No("emoji", Some("Sam"))),
    ("Jo 🏳️‍🌈", No("emoji", Some("Jo"))),
    ("Sam ★", No("emoji", Some("Sam"))),
    ("Sam£", No("emoji", Some("Sam"))),
    ("ℹ️", No("emoji", None)),
    ("O`Neill", No("emoji", Some("O'Neill"))),
    // Email addresses, told so before anything else.
    ("sam@example.org", No("email", None)),
    ("Dr Sam@nhs.net", No("email", None)),
    ("sam＠example.org", No("email", None)),
    // Nothing there.
    ("", No("empty", None)),
    ("   ", No("empty", None)),
    ("\u{3164}", No("empty", None)),
    ("\u{200B}\u{FEFF}", No("empty", None)),
    // Too many words, too long.
    ("Anna Maria Luisa", No("too_many_words", None)),
    ("Nguyễn Văn An", No("too_many_words", None)),
    (THIRTY_ONE, No("too_long", None)),
    ("Abcdefghijklmno Pqrstuvwxyzabcd", No("too_long", None)),
    // Characters that are not letters.
    ("J.", No("not_a_letter", Some("J"))),
    ("Sarah.", No("not_a_letter", Some("Sarah"))),
    ("Sarah,", No("not_a_letter", Some("Sarah"))),
    ("St. John", No("not_a_letter", Some("St John"))),
    ("Sarah–Jane", No("not_a_letter", Some("Sarah-Jane"))),
    ("O‘Neill", No("not_a_letter", Some("O'Neill"))),
    ("Jones, Sarah", No("not_a_letter", None)),
    ("Sarah/Sally", No("not_a_letter", None)),
    ("Sam (she/her)", No("not_a_letter", Some("Sam"))),
    ("-Sam", No("not_a_letter", Some("Sam"))),
    ("Sam-", No("not_a_letter", Some("Sam"))),
    ("'Sam'", No("not_a_letter", Some("Sam"))),
    ("Jean--Luc", No("not_a_letter", None)),
    ("O''Neill", No("not_a_letter", None)),
    ("sam_smith", No("not_a_letter", None)),
    ("Bob & Sue", No("not_a_letter", None)),
    ("\u{0301}Sarah", No("not_a_letter", None)),
    ("Sa\u{200D}\u{200D}rah", No("not_a_letter", None)),
    ("\u{200C}Sarah", No("not_a_letter", None)),
    ("Sarah\u{202E}", No("not_a_letter", None)),
    ("S\u{0300}\u{0301}\u{0302}\u{0303}\u{0304}arah", No("not_a_letter", None)),
];

/// What `FirstName::parse` actually did, in the table's terms.
fn outcome(input: &str) -> Result<String, (&'static str, Option<String>)> {
    FirstName::parse(input)
        .map(|name| name.as_str().to_owned())
        .map_err(|problem| (problem.code(), problem.suggestion().map(str::to_owned)))
}

// Guards every row of the name table: accepted names come back tidied, refused ones with
// the right code and suggestion.
#[test]
fn every_name_in_the_table_gets_the_expected_outcome() {
    assert!(NAMES.len() >= 60, "the table should stay broad");
    let mut wrong = Vec::new();
    for &(input, want) in NAMES {
        let expected = match want {
            Want::Accepted(name) => Ok(name.to_owned()),
            Want::Refused(code, suggestion) => Err((code, suggestion.map(str::to_owned))),
        };
        let actual = outcome(input);
        if actual != expected {
            wrong.push(format!("{input:?}: expected {expected:?}, got {actual:?}"));
        }
    }
    assert!(wrong.is_empty(), "{} rows wrong:\n{}", wrong.len(), wrong.join("\n"));
}

/// Every problem the table produces, with its input.
fn refusals() -> Vec<(&'static str, NameProblem)> {
    NAMES.iter().filter_map(|&(input, _)| FirstName::parse(input).err().map(|p| (input, p))).collect()
}

// Guards the tone of what participants read: every message is a plain, kind sentence.
#[test]
fn every_message_is_plain_english_without_jargon() {
    const JARGON: &[&str] = &[
        "error",
        "invalid",
        "illegal",
        "fail",
        "reject",
        "not allowed",
        "unicode",
        "character class",
        "parse",
        "nfc",
        "post-nominal",
        "post_nominal",
        "honorific",
        "code",
    ];
    for (input, problem) in refusals() {
        let message = problem.to_string();
        assert!(!message.trim().is_empty(), "{input:?}: empty message");
        assert!(
            message.starts_with(|c: char| c.is_ascii_uppercase()),
            "{input:?}: {message:?} should start with a capital"
        );
        assert!(
            message.ends_with('.') || message.ends_with('?'),
            "{input:?}: {message:?} should end a sentence"
        );
        let lower = message.to_lowercase();
        for word in JARGON {
            assert!(!lower.contains(word), "{input:?}: {message:?} says {word:?}");
        }
        match problem.suggestion() {
            Some(name) => assert!(
                message.ends_with(&format!(" How about \"{name}\"?")),
                "{input:?}: {message:?} should offer {name:?}"
            ),
            None => assert!(!message.contains("How about"), "{input:?}: {message:?}"),
        }
    }
}

// Guards the exact wording the design and the UI copy rely on.
#[test]
fn key_messages_read_as_written() {
    let message = |input: &str| FirstName::parse(input).unwrap_err().to_string();
    assert_eq!(
        message("Dr Sarah"),
        "We use first names only here, with no titles, so everyone is equal in the room. \
         How about \"Sarah\"?"
    );
    assert_eq!(
        message("Doctor"),
        "We use first names only here, with no titles, so everyone is equal in the room."
    );
    assert_eq!(message(""), "Please type your first name.");
    assert_eq!(message("Sarah2"), "Names here are letters only — please leave out numbers.");
    assert_eq!(
        message("sam@example.org"),
        "That looks like an email address. Just your first name is perfect."
    );
    assert_eq!(message("Anna Maria Luisa"), "Just your first name, please — one or two words.");
    assert!(message(THIRTY_ONE).contains("30 characters"));
    assert!(message("sam_smith").contains("hyphens and apostrophes are fine"));
}

// Guards the promise that a suggestion can be used as it is.
#[test]
fn every_suggestion_is_itself_an_accepted_name() {
    for (input, problem) in refusals() {
        if let Some(suggestion) = problem.suggestion() {
            let name = FirstName::parse(suggestion)
                .unwrap_or_else(|p| panic!("{input:?} suggested {suggestion:?}, refused: {p}"));
            assert_eq!(name.as_str(), suggestion, "{input:?}");
        }
    }
}

// Guards the stable codes that other code and the UI match on.
#[test]
fn codes_are_the_documented_ones() {
    const CODES: &[&str] = &[
        "empty",
        "email",
        "title",
        "post_nominal",
        "digits",
        "emoji",
        "not_a_letter",
        "too_many_words",
        "too_long",
    ];
    let mut seen: Vec<&str> = refusals().iter().map(|(_, p)| p.code()).collect();
    seen.sort_unstable();
    seen.dedup();
    let mut all = CODES.to_vec();
    all.sort_unstable();
    assert_eq!(seen, all, "the table should produce every code, and only these");
}

// Guards that decomposed input (as macOS and some keyboards send it) becomes the same name.
#[test]
fn decomposed_input_is_the_same_name_as_composed_input() {
    let pairs = [
        ("Siobha\u{0301}n", "Siobhán"),
        ("Zoe\u{0308}", "Zoë"),
        ("Jose\u{0301}", "José"),
        ("\u{1109}\u{1175}\u{11AB}", "신"),
    ];
    for (decomposed, composed) in pairs {
        assert_eq!(
            FirstName::parse(decomposed).unwrap(),
            FirstName::parse(composed).unwrap(),
            "{decomposed:?}"
        );
    }
}

// Guards how two people with the same first name are spotted.
#[test]
fn folding_treats_names_that_look_the_same_as_the_same() {
    let folded = |input: &str| FirstName::parse(input).unwrap().folded();
    assert_eq!(folded("SARAH"), "sarah");
    assert_eq!(folded("Ｓａｒａｈ"), "sarah");
    assert_eq!(folded("Sarah"), folded("sarah"));
    assert_eq!(folded("O’Neill"), folded("o'neill"));
    assert_eq!(folded("Siobha\u{0301}n"), folded("SIOBHÁN"));
    assert_eq!(folded("Δημήτρης"), folded("ΔΗΜΉΤΡΗΣ"));
    assert_eq!(folded("علی\u{200C}رضا"), folded("علیرضا"));
    assert_ne!(folded("José"), folded("Jose"));
    assert_ne!(folded("Sarah"), folded("Sara"));
}

// Guards the conversions other code uses.
#[test]
fn display_from_str_and_serde_all_give_the_tidy_name() {
    let name: FirstName = "  Mary   Ann ".parse().unwrap();
    assert_eq!(name.to_string(), "Mary Ann");
    assert_eq!(name.as_str(), "Mary Ann");
    assert_eq!(serde_json::to_string(&name).unwrap(), "\"Mary Ann\"");
    assert_eq!(
        "Dr Sarah".parse::<FirstName>().unwrap_err(),
        NameProblem::Title { suggestion: Some(FirstName::parse("Sarah").unwrap()) }
    );
}

// Guards against a stack overflow from suggestions that would check suggestions of their own.
#[test]
fn long_hostile_input_is_refused_without_trouble() {
    let brackets = format!("a {}", "()".repeat(100_000));
    assert_eq!(FirstName::parse(&brackets).unwrap_err().code(), "not_a_letter");
    let titles = "Dr ".repeat(50_000) + "Sarah";
    assert_eq!(outcome(&titles), Err(("title", Some("Sarah".to_owned()))));
    let long = "a".repeat(1_000_000);
    assert_eq!(FirstName::parse(&long).unwrap_err().code(), "too_long");
}

/// Checks the properties every outcome must have, whatever the input.
fn check_properties(input: &str) -> Result<(), TestCaseError> {
    match FirstName::parse(input) {
        Ok(name) => {
            let s = name.as_str();
            prop_assert_eq!(FirstName::parse(s), Ok(name.clone()), "round trip");
            prop_assert_eq!(FirstName::parse(&format!("  {s}\t")), Ok(name.clone()));
            prop_assert!(!s.is_empty() && s.chars().count() <= 30);
            prop_assert!((1..=2).contains(&s.split(' ').count()));
            prop_assert!(s.split(' ').all(|word| !word.is_empty()));
            prop_assert!(unicode_normalization::is_nfc(s));
            prop_assert!(!s.chars().any(|c| c.is_ascii_digit() || c == '@'));
        }
        Err(problem) => {
            prop_assert!(!problem.to_string().trim().is_empty());
            if let Some(suggestion) = problem.suggestion() {
                let reparsed = FirstName::parse(suggestion);
                prop_assert_eq!(
                    reparsed.as_ref().map(FirstName::as_str),
                    Ok(suggestion),
                    "suggestion must be accepted as it is"
                );
            }
        }
    }
    Ok(())
}

/// Strings built from the pieces that matter to the rules, so that accepted names, titles
/// and every kind of problem all turn up often, unlike in fully random strings.
fn name_like() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "Sarah",
        "ann",
        "Ma",
        "MA",
        "Dr",
        "dr.",
        "Prof.",
        "Major",
        "Hon",
        "Col.",
        "PhD",
        "Ph.D.",
        "MBE",
        " ",
        "  ",
        "\t",
        "-",
        "'",
        "’",
        "·",
        ".",
        ",",
        "(",
        ")",
        "@",
        "1",
        "٣",
        "😀",
        "\u{FE0F}",
        "\u{200D}",
        "\u{200C}",
        "\u{0301}",
        "न",
        "्",
        "ा",
        "ג",
        "׳",
        "美",
        "é",
        "\u{3164}",
        "\u{FEFF}",
        "\u{00AD}",
        "\u{E0100}",
        "\u{202E}",
    ]);
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

proptest! {
    // Guards that no input at all can panic the parser, and that accepted names round-trip.
    #[test]
    fn parse_never_panics_on_arbitrary_strings(input in any::<String>()) {
        check_properties(&input)?;
    }

    // Guards the same properties on inputs that exercise every rule.
    #[test]
    fn parse_holds_its_properties_on_name_like_strings(input in name_like()) {
        check_properties(&input)?;
    }
}
