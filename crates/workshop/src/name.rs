//! First names: the only thing a person tells the workshop about themselves.
//!
//! Common Ground asks for a first name and nothing else, with no titles, ranks or letters
//! after the name, so that nobody walks into the room already ranked above anyone else.
//! This module turns what someone typed into a [`FirstName`], or into a [`NameProblem`]
//! whose message can be shown to them as it is: kind, in plain English, and with a
//! suggestion whenever there is an obvious one.
//!
//! Checks run in a fixed order, so that each person gets the most helpful message:
//! empty → email → titles and letters after the name → numbers → emoji and symbols →
//! other characters → number of words → length. Titles come before the character checks
//! so that "Dr. Sarah" hears about the title, not about the dot.

use std::fmt;
use std::str::FromStr;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// The longest name we accept, in characters after normalisation. Thirty fits every
/// name badge, list and sticky note in the interface without cutting a name short.
const MAX_CHARS: usize = 30;

/// A first name is one word or two ("Mary Ann", "Jean Luc"); three is a full name.
const MAX_WORDS: usize = 2;

/// Real scripts stack at most three or four combining marks on a letter (Hebrew points,
/// Tibetan stacks, Devanagari signs); more than this is decoration that spills over
/// neighbouring text on screen.
const MAX_MARKS_IN_A_ROW: usize = 4;

/// A validated first name: trimmed, internal white space collapsed to single spaces,
/// NFC-normalised.
///
/// A handful of invisible characters that carry no meaning in a name (soft hyphens,
/// zero-width spaces, byte-order marks, direction marks and Hangul filler characters) are
/// removed as well, because names pasted from documents and web pages often carry them and
/// the person cannot see them to take them out.
///
/// The only way to make one is [`FirstName::parse`] (or [`str::parse`]), so holding a
/// `FirstName` means the rules have been checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct FirstName(String);

impl FirstName {
    /// Checks a name as typed and returns it tidied, or the problem to show the person.
    ///
    /// # Errors
    ///
    /// Returns a [`NameProblem`] when the input is not one or two words of letters of at
    /// most 30 characters, or when it carries a title or letters after the name.
    pub fn parse(input: &str) -> Result<FirstName, NameProblem> {
        check(input, Suggest::Yes)
    }

    /// The name as it will be shown to everyone.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Case-folded form (lowercase, NFC) used to tell whether two people share a first name.
    ///
    /// Names that look the same on screen should fold the same, so compatibility forms are
    /// folded too (NFKC: full-width "Ｓａｒａｈ" is "sarah"), typographic and modifier-letter
    /// apostrophes become `'`, and zero-width joiners and ideographic variation selectors
    /// are dropped. Erring this way is safe: two people judged to share a name are simply
    /// told apart by colour and symbol. The result is still NFC, as NFKC text always is.
    #[must_use]
    pub fn folded(&self) -> String {
        self.0
            .nfkc()
            .collect::<String>()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                '\u{2019}' | '\u{02BC}' => Some('\''),
                '\u{200C}' | '\u{200D}' | '\u{E0100}'..='\u{E01EF}' => None,
                other => Some(other),
            })
            .nfc()
            .collect()
    }
}

impl fmt::Display for FirstName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for FirstName {
    type Err = NameProblem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FirstName::parse(s)
    }
}

/// Why a name was not accepted, worded to be shown to the person who typed it.
///
/// The `Display` text is the message itself: plain, warm English that says what to do next
/// and never blames anyone. [`NameProblem::code`] gives a stable code for programs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameProblem {
    /// Nothing was typed, or only spaces.
    #[error("Please type your first name.")]
    Empty,
    /// The input contains `@`, so it is most likely an email address.
    #[error("That looks like an email address. Just your first name is perfect.")]
    Email,
    /// The name starts with a title, honorific, rank or job title ("Dr", "Nurse", "Sgt").
    #[error(
        "We use first names only here, with no titles, so everyone is equal in the room.{}",
        how_about(.suggestion.as_ref())
    )]
    Title {
        /// The name without its titles, when that is itself a valid name.
        suggestion: Option<FirstName>,
    },
    /// The name is followed by letters after the name: degrees, honours or registrations
    /// ("PhD", "MBE", "RMN").
    #[error(
        "We use first names only here, with no letters after the name, so everyone is equal in the room.{}",
        how_about(.suggestion.as_ref())
    )]
    PostNominal {
        /// The name without the letters after it, when that is itself a valid name.
        suggestion: Option<FirstName>,
    },
    /// The name contains a number, in any script.
    #[error("Names here are letters only — please leave out numbers.")]
    Digits,
    /// The name contains an emoji or another symbol.
    #[error("Names here are letters only — please leave out emoji and symbols.{}", how_about(.suggestion.as_ref()))]
    Emoji {
        /// The name with the emoji and symbols taken out, when that is a valid name.
        suggestion: Option<FirstName>,
    },
    /// The name contains punctuation or another character that is not a letter, or a
    /// hyphen or apostrophe that is not between two letters.
    #[error(
        "Please use letters only — hyphens and apostrophes are fine between letters.{}",
        how_about(.suggestion.as_ref())
    )]
    NotALetter {
        /// The name with stray punctuation at the ends of words, or a note in brackets at
        /// the end, taken out, when that is a valid name.
        suggestion: Option<FirstName>,
    },
    /// The name has more than two words.
    #[error("Just your first name, please — one or two words.")]
    TooManyWords,
    /// The name is longer than 30 characters.
    #[error("Names here can be up to {max} characters. A shorter form of your first name is perfect.", max = MAX_CHARS)]
    TooLong,
}

impl NameProblem {
    /// The name we suggest instead, where there is one ("Dr Sarah" -> Some("Sarah")).
    ///
    /// Every suggestion has itself passed [`FirstName::parse`].
    #[must_use]
    pub fn suggestion(&self) -> Option<&str> {
        match self {
            NameProblem::Title { suggestion }
            | NameProblem::PostNominal { suggestion }
            | NameProblem::Emoji { suggestion }
            | NameProblem::NotALetter { suggestion } => suggestion.as_ref().map(FirstName::as_str),
            NameProblem::Empty
            | NameProblem::Email
            | NameProblem::Digits
            | NameProblem::TooManyWords
            | NameProblem::TooLong => None,
        }
    }

    /// A short stable machine-readable code, e.g. "empty", "too_long", "too_many_words", "title", "post_nominal", "digits", "emoji", "email", "not_a_letter".
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            NameProblem::Empty => "empty",
            NameProblem::Email => "email",
            NameProblem::Title { .. } => "title",
            NameProblem::PostNominal { .. } => "post_nominal",
            NameProblem::Digits => "digits",
            NameProblem::Emoji { .. } => "emoji",
            NameProblem::NotALetter { .. } => "not_a_letter",
            NameProblem::TooManyWords => "too_many_words",
            NameProblem::TooLong => "too_long",
        }
    }
}

/// Appends ` How about "Sarah"?` to a message when there is a suggestion.
fn how_about(suggestion: Option<&FirstName>) -> HowAbout<'_> {
    HowAbout(suggestion)
}

/// The optional end of a message: a suggestion, or nothing.
struct HowAbout<'a>(Option<&'a FirstName>);

impl fmt::Display for HowAbout<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => write!(f, " How about \"{name}\"?"),
            None => Ok(()),
        }
    }
}

/// Whether to work out suggestions. Suggestions are checked by parsing them, and that inner
/// parse must not look for suggestions of its own: otherwise input such as `a ()()()…`
/// would recurse once per bracket pair and could exhaust the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Suggest {
    Yes,
    No,
}

fn check(input: &str, suggest: Suggest) -> Result<FirstName, NameProblem> {
    let name = tidy(input);
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    // Before anything else, so that "sam.smith@example.org" is told it looks like an email
    // rather than being told about dots.
    if name.chars().any(is_at_sign) {
        return Err(NameProblem::Email);
    }
    check_titles(&name, suggest)?;
    // Numbers in any script: Arabic-Indic and Devanagari digits, superscripts, Roman numerals.
    if name.chars().any(|c| c.general_category_group() == GeneralCategoryGroup::Number) {
        return Err(NameProblem::Digits);
    }
    if name.chars().any(is_emoji_or_symbol) {
        let suggestion = match suggest {
            Suggest::Yes => without_emoji(&name),
            Suggest::No => None,
        };
        return Err(NameProblem::Emoji { suggestion });
    }
    if !name.split(' ').all(is_well_formed_word) {
        let suggestion = match suggest {
            Suggest::Yes => without_stray_punctuation(&name),
            Suggest::No => None,
        };
        return Err(NameProblem::NotALetter { suggestion });
    }
    if name.split(' ').count() > MAX_WORDS {
        // No suggestion: the first word is not always the first name ("Nguyễn Văn An"
        // starts with the family name), and guessing wrong would be worse than asking.
        return Err(NameProblem::TooManyWords);
    }
    if name.chars().count() > MAX_CHARS {
        return Err(NameProblem::TooLong);
    }
    Ok(FirstName(name))
}

/// Removes invisible noise, trims, collapses white space to single spaces and normalises
/// to NFC. White space is collapsed before normalising so that the result is NFC as a
/// whole, not just word by word.
fn tidy(input: &str) -> String {
    let visible: String = input.chars().filter(|&c| !is_invisible_noise(c)).collect();
    let collapsed = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.nfc().collect()
}

/// Invisible characters that never carry meaning in a name but often ride along with text
/// pasted from documents, web pages and chat apps. Removing them is kinder than refusing a
/// name over something the person cannot see. The Hangul fillers are letters by category
/// but draw nothing, and are a well-known way to make a "blank" name.
fn is_invisible_noise(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' // soft hyphen
            | '\u{034F}' // combining grapheme joiner
            | '\u{061C}' // Arabic letter mark
            | '\u{115F}' // Hangul choseong filler
            | '\u{1160}' // Hangul jungseong filler
            | '\u{200B}' // zero-width space
            | '\u{200E}' // left-to-right mark
            | '\u{200F}' // right-to-left mark
            | '\u{2060}' // word joiner
            | '\u{3164}' // Hangul filler
            | '\u{FEFF}' // byte-order mark
            | '\u{FFA0}' // halfwidth Hangul filler
    )
}

/// The at sign, including the full-width and small forms that some keyboards produce.
fn is_at_sign(c: char) -> bool {
    matches!(c, '@' | '\u{FF20}' | '\u{FE6B}')
}

/// Emoji, pictographs and other symbols, and the invisible characters that only ever build
/// emoji: presentation selectors, the tag characters of flag sequences and enclosing marks
/// such as the keycap.
fn is_emoji_or_symbol(c: char) -> bool {
    c.general_category_group() == GeneralCategoryGroup::Symbol
        || c.general_category() == GeneralCategory::EnclosingMark
        || matches!(
            c,
            // Presentation selectors, and the tags of flag sequences.
            '\u{FE00}'..='\u{FE0F}' | '\u{E0001}' | '\u{E0020}'..='\u{E007F}'
            // The "information" emoji is a letter by category, but nobody's name.
            | '\u{2139}'
        )
}

fn is_letter(c: char) -> bool {
    c.general_category_group() == GeneralCategoryGroup::Letter
}

/// A combining mark that sits on a letter: accents, Indic vowel signs and viramas, Hebrew
/// points. Enclosing marks are not included; they only draw boxes and circles.
fn is_combining_mark(c: char) -> bool {
    matches!(c.general_category(), GeneralCategory::NonspacingMark | GeneralCategory::SpacingMark)
}

fn is_letter_or_mark(c: char) -> bool {
    is_letter(c) || is_combining_mark(c)
}

/// Whether one word (no spaces) is made only of letters, marks on letters, and joining
/// characters between letters.
///
/// Besides the hyphen and the two apostrophes, two joining characters are accepted because
/// names are spelt with them: the middle dot of Catalan "l·l" ("Gal·la", "Marcel·lí"), and
/// the Hebrew geresh, which marks sounds such as "j" and may end a word ("ג׳ורג׳").
fn is_well_formed_word(word: &str) -> bool {
    let mut chars = word.chars().peekable();
    let mut prev: Option<char> = None;
    let mut marks_in_a_row = 0;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let after_letter_or_mark = prev.is_some_and(is_letter_or_mark);
        let ok = if is_letter(c) {
            true
        } else if is_combining_mark(c) {
            after_letter_or_mark
        } else {
            match c {
                // Hyphen, apostrophes and middle dot: between letters only, which also
                // rules out doubling them.
                '-' | '\'' | '\u{2019}' | '\u{00B7}' => after_letter_or_mark && next.is_some_and(is_letter),
                // Zero-width non-joiner and joiner shape Persian and Indic words; they are
                // invisible, so only inside a word and never doubled.
                '\u{200C}' | '\u{200D}' => after_letter_or_mark && next.is_some_and(is_letter_or_mark),
                '\u{05F3}' => prev.is_some_and(|p| ('\u{05D0}'..='\u{05EA}').contains(&p)),
                _ => false,
            }
        };
        if !ok {
            return false;
        }
        if is_combining_mark(c) {
            marks_in_a_row += 1;
            if marks_in_a_row > MAX_MARKS_IN_A_ROW {
                return false;
            }
        } else {
            marks_in_a_row = 0;
        }
        prev = Some(c);
    }
    true
}

// ---------------------------------------------------------------------------------------
// Titles and letters after the name
// ---------------------------------------------------------------------------------------

/// When a word that can be a title counts as one in first position.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TitleRule {
    /// Always a title, whether alone ("Matron") or before a name ("Nurse Jackie").
    Always,
    /// A title only before a name ("Major Tom", "Imam Ali"); on its own it is accepted,
    /// because it is also a given name.
    BeforeAName,
    /// A title only when written with a dot ("Col.", "Hon."), or between another title and
    /// a name ("Rt Hon Sarah"), because the bare word is also a name: "Col" is short for
    /// Colin, "Gen" is a Japanese given name and "Hon" a Cantonese one. So "Dr Gen" is
    /// still a doctor called Gen.
    Dotted,
    /// A title only in capitals ("DI Sarah", "PC Lee"), because in ordinary case the word
    /// can be a name ("Di").
    Capitals,
}

/// Titles, honorifics, ranks and job titles that can start a name. Spellings are lowercase
/// and matched case-insensitively, except the `Capitals` ones, which are matched exactly.
///
/// Deliberately absent, because they are commonly given names: Dean, Earl, Duke, Prince,
/// Princess, Baron, King, Queen, Don, Pat and Junior. Someone really called Earl must be
/// able to join as Earl, and a stray "Prince Harry" is a smaller harm than that.
const TITLES: &[(&str, TitleRule)] = {
    use TitleRule::{Always as A, BeforeAName as N, Capitals as C, Dotted as D};
    &[
        // Forms of address.
        ("mr", A),
        ("mister", A),
        ("mrs", A),
        ("ms", A),
        ("miss", A),
        ("mx", A),
        ("master", A),
        ("madam", A),
        ("madame", A),
        ("sir", A),
        ("dame", A),
        ("lord", A),
        ("lady", A),
        ("baroness", A),
        ("rt", A),
        ("hon", D),
        ("honourable", A),
        ("honorable", A),
        // Other languages, as people arrive with them.
        ("herr", A),
        ("frau", A),
        ("monsieur", A),
        ("mme", A),
        ("mlle", A),
        ("mademoiselle", A),
        ("señor", A),
        ("senor", A),
        ("señora", A),
        ("senora", A),
        ("sr", A),
        ("sra", A),
        ("srta", A),
        ("dott", A),
        ("dra", A),
        ("drs", A),
        // Academic and medical.
        ("dr", A),
        ("doctor", A),
        ("prof", A),
        ("professor", A),
        ("nurse", A),
        ("sister", A),
        ("matron", A),
        ("consultant", A),
        ("surgeon", A),
        ("registrar", A),
        ("therapist", A),
        ("counsellor", A),
        ("counselor", A),
        ("psychiatrist", A),
        ("psychologist", A),
        // Religious.
        ("rev", A),
        ("revd", A),
        ("reverend", A),
        ("fr", A),
        ("father", A),
        ("brother", A),
        ("pastor", A),
        ("rabbi", A),
        ("imam", N),
        ("sheikh", A),
        ("bishop", N),
        ("msgr", A),
        ("monsignor", A),
        // Civic, legal and managerial.
        ("cllr", A),
        ("cr", A),
        ("councillor", A),
        ("councilor", A),
        ("alderman", A),
        ("mayor", A),
        ("judge", A),
        ("minister", A),
        ("MP", C),
        ("commissioner", A),
        ("director", A),
        ("manager", A),
        ("chief", A),
        ("chair", A),
        ("chairman", A),
        ("chairwoman", A),
        ("chairperson", A),
        // Police and armed forces.
        ("officer", A),
        ("constable", A),
        ("PC", C),
        ("DC", C),
        ("DS", C),
        ("DI", C),
        ("insp", A),
        ("inspector", A),
        ("sgt", A),
        ("sergeant", A),
        ("cpl", A),
        ("corporal", A),
        ("capt", A),
        ("captain", A),
        ("lt", A),
        ("lieutenant", A),
        ("maj", A),
        ("major", N),
        ("col", D),
        ("colonel", A),
        ("gen", D),
        ("general", A),
    ]
};

/// Letters after the name that are only refused in capitals, because in ordinary case they
/// are names or parts of names ("Ma", "Jo Ii").
const POST_NOMINALS_IN_CAPITALS: &[&str] = &["BA", "MA", "MD", "RN", "QC", "KC", "JP", "MP", "II", "IV"];

/// Letters after the name: degrees, registrations, honours and suffixes. Lowercase,
/// matched case-insensitively. Only refused after the first word, so a first name that
/// happens to share a spelling is never refused on its own.
const POST_NOMINALS: &[&str] = &[
    // Degrees.
    "bsc",
    "msc",
    "mphil",
    "dphil",
    "phd",
    "mres",
    "mba",
    "llb",
    "llm",
    "psyd",
    "dclinpsy",
    "dclinpsych",
    "clinpsyd",
    // Medical and nursing qualifications and registrations.
    "mbbs",
    "mbchb",
    "mrcp",
    "frcp",
    "mrcgp",
    "frcs",
    "mrcpsych",
    "frcpsych",
    "rmn",
    "rgn",
    "rnmh",
    "rnld",
    // Honours.
    "mbe",
    "obe",
    "cbe",
    "kbe",
    "dbe",
    // Suffixes.
    "esq",
    "jr",
    "jnr",
    "sr",
    "snr",
    "iii",
];

/// The spelling of a word used to look it up among titles: dots removed ("Dr." and "Ph.D."
/// are "Dr" and "PhD"), and brackets and trailing commas around it ignored ("(PhD)",
/// "Sarah, PhD").
fn lookup_key(word: &str) -> String {
    word.trim_matches(|c| matches!(c, '(' | ')' | ',')).chars().filter(|&c| c != '.').collect()
}

/// Whether `word` in the leading run of a name is a title.
///
/// `followed` says whether another word comes after it, and `after_title` whether a title
/// comes straight before it.
fn is_leading_title(word: &str, followed: bool, after_title: bool) -> bool {
    let key = lookup_key(word);
    if key.is_empty() {
        return false;
    }
    let lower = key.to_lowercase();
    TITLES.iter().any(|&(spelling, rule)| match rule {
        TitleRule::Capitals => key == spelling,
        TitleRule::Always => lower == spelling,
        TitleRule::BeforeAName => followed && lower == spelling,
        TitleRule::Dotted => (word.contains('.') || (after_title && followed)) && lower == spelling,
    })
}

fn is_post_nominal(word: &str) -> bool {
    let key = lookup_key(word);
    if key.is_empty() {
        return false;
    }
    let lower = key.to_lowercase();
    POST_NOMINALS_IN_CAPITALS.contains(&key.as_str()) || POST_NOMINALS.contains(&lower.as_str())
}

/// Refuses titles at the start and letters after the name, suggesting what is left.
///
/// `name` is already tidied, so words are separated by single spaces.
fn check_titles(name: &str, suggest: Suggest) -> Result<(), NameProblem> {
    let words: Vec<&str> = name.split(' ').collect();

    // Split the name into tokens, peeling titles off the front. A title may be glued to
    // what follows with a dot ("Dr.Sarah"), so in the leading run each word is split at
    // its dots for as long as the part before the dot is a title.
    let mut tokens: Vec<&str> = Vec::with_capacity(words.len() + 1);
    let mut leading_titles = 0;
    let mut in_leading_run = true;
    for (i, &word) in words.iter().enumerate() {
        let mut rest = word;
        if in_leading_run {
            while let Some(dot) = rest.find('.') {
                let (head, tail) = rest.split_at(dot + 1);
                if tail.is_empty() || !is_leading_title(head, true, leading_titles > 0) {
                    break;
                }
                tokens.push(head);
                leading_titles += 1;
                rest = tail;
            }
            let followed = i + 1 < words.len();
            if is_leading_title(rest, followed, leading_titles > 0) {
                tokens.push(rest);
                leading_titles += 1;
                continue;
            }
            in_leading_run = false;
        }
        tokens.push(rest);
    }

    // Letters after the name can be anywhere but first.
    let mut post_nominals = 0;
    let mut kept: Vec<&str> = Vec::with_capacity(tokens.len());
    for (position, &token) in tokens.iter().enumerate().skip(leading_titles) {
        if position > 0 && is_post_nominal(token) {
            post_nominals += 1;
        } else {
            kept.push(token.trim_end_matches(','));
        }
    }

    if leading_titles == 0 && post_nominals == 0 {
        return Ok(());
    }
    let suggestion = match suggest {
        Suggest::Yes if (1..=MAX_WORDS).contains(&kept.len()) => check(&kept.join(" "), Suggest::No).ok(),
        _ => None,
    };
    Err(if leading_titles > 0 {
        NameProblem::Title { suggestion }
    } else {
        NameProblem::PostNominal { suggestion }
    })
}

// ---------------------------------------------------------------------------------------
// Suggestions for names with stray characters
// ---------------------------------------------------------------------------------------

/// Characters people type in place of a hyphen or an apostrophe (dashes, a minus sign, a backtick, an
/// acute accent, an opening quote, a prime), which we offer back as the real thing when
/// they sit between two letters: "Sarah–Jane" -> "Sarah-Jane", "O`Neill" -> "O'Neill".
/// Only suggestions use this; the name itself is never changed behind the person's back.
fn with_look_alikes_replaced(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        let between_letters =
            prev.is_some_and(is_letter_or_mark) && chars.peek().is_some_and(|&n| is_letter(n));
        let replacement = match c {
            '\u{2010}'..='\u{2014}' | '\u{2212}' if between_letters => '-',
            '`' | '\u{00B4}' | '\u{2018}' | '\u{2032}' if between_letters => '\'',
            other => other,
        };
        out.push(replacement);
        prev = Some(c);
    }
    out
}

/// The name with emoji and symbols replaced by spaces ("Sam 😀" -> "Sam"), when that is a
/// valid name. Zero-width joiners next to an emoji are part of the emoji and go with it.
fn without_emoji(name: &str) -> Option<FirstName> {
    let chars: Vec<char> = with_look_alikes_replaced(name).chars().collect();
    let is_emoji_at = |i: usize| chars.get(i).is_some_and(|&c| is_emoji_or_symbol(c));
    let cleaned: String = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let emoji_joiner = c == '\u{200D}' && ((i > 0 && is_emoji_at(i - 1)) || is_emoji_at(i + 1));
            if is_emoji_or_symbol(c) || emoji_joiner {
                ' '
            } else {
                c
            }
        })
        .collect();
    check(&cleaned, Suggest::No).ok()
}

/// The name with a trailing note in brackets removed ("Sam (she/her)" -> "Sam") and stray
/// punctuation trimmed from the ends of words ("J." -> "J", "-Sam" -> "Sam"), when that is
/// a valid name. Punctuation that separates names ("Bob & Sue", "Jones, Sarah",
/// "Sarah/Sally") means this is not one name with extra marks, so there is no suggestion:
/// offering "Jones Sarah" would only be a different mistake.
fn without_stray_punctuation(name: &str) -> Option<FirstName> {
    let replaced = with_look_alikes_replaced(name);
    let mut base = replaced.as_str();
    if base.ends_with(')') {
        if let Some(open) = base.rfind('(') {
            if !base[..open].trim().is_empty() {
                base = &base[..open];
            }
        }
    }
    let is_punctuation = |c: char| c.general_category_group() == GeneralCategoryGroup::Punctuation;
    let body = base.trim_end_matches(|c: char| is_punctuation(c) || c == ' ');
    if body.contains([',', ';', '/', '&']) {
        return None;
    }
    let mut words = Vec::new();
    for word in base.split_whitespace() {
        let trimmed = word.trim_matches(is_punctuation);
        if trimmed.is_empty() {
            return None;
        }
        words.push(trimmed);
    }
    check(&words.join(" "), Suggest::No).ok()
}
