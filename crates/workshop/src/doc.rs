//! Reading and writing the Automerge document safely.
//!
//! Everything read here may have been written by another device, by another version, or
//! damaged. Readers return `Option` and callers skip what they cannot understand; nothing
//! here panics on document contents.

use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};

use crate::error::{ObjectKind, Refusal, Result, WorkshopError};

/// Root keys of the workshop document.
pub(crate) mod key {
    pub(crate) const SCHEMA: &str = "schema";
    pub(crate) const META: &str = "meta";
    pub(crate) const GROUND_RULES: &str = "ground_rules";
    pub(crate) const PARTICIPANTS: &str = "participants";
    pub(crate) const SESSIONS: &str = "sessions";
    pub(crate) const PROMPTS: &str = "prompts";
    pub(crate) const NOTES: &str = "notes";
    pub(crate) const CLUSTERS: &str = "clusters";
    pub(crate) const CHALLENGES: &str = "challenges";
    pub(crate) const VALUES: &str = "values";
    pub(crate) const REFLECTIONS: &str = "reflections";
    pub(crate) const ACTIONS: &str = "actions";

    /// Every root collection, created once by the workshop's creator. Containers are never
    /// created lazily by several devices: two concurrent creations of the same key would
    /// conflict and one side's contents would be hidden.
    pub(crate) const COLLECTIONS: [&str; 11] = [
        GROUND_RULES,
        PARTICIPANTS,
        SESSIONS,
        PROMPTS,
        NOTES,
        CLUSTERS,
        CHALLENGES,
        VALUES,
        REFLECTIONS,
        ACTIONS,
        META,
    ];
}

/// The id of a child object (map or text) under `key`, if there is one.
pub(crate) fn child<R: ReadDoc + ?Sized>(doc: &R, parent: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(parent, key) {
        Ok(Some((Value::Object(_), id))) => Some(id),
        _ => None,
    }
}

/// The id of a child map under `key`.
pub(crate) fn child_map<R: ReadDoc + ?Sized>(doc: &R, parent: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(parent, key) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    }
}

/// A root collection. Every loaded workshop has all of them (checked at load).
pub(crate) fn root<R: ReadDoc + ?Sized>(doc: &R, key: &str) -> Result<ObjId> {
    child_map(doc, &ROOT, key).ok_or(WorkshopError::NotAWorkshop("a part is missing"))
}

fn scalar<R: ReadDoc + ?Sized>(doc: &R, obj: &ObjId, key: &str) -> Option<ScalarValue> {
    match doc.get(obj, key) {
        Ok(Some((Value::Scalar(s), _))) => Some(s.into_owned()),
        _ => None,
    }
}

/// A string scalar.
pub(crate) fn string<R: ReadDoc + ?Sized>(doc: &R, obj: &ObjId, key: &str) -> Option<String> {
    match scalar(doc, obj, key)? {
        ScalarValue::Str(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The contents of a Text object under `key` (or a plain string, which older or foreign
/// writers may have used).
pub(crate) fn text<R: ReadDoc + ?Sized>(doc: &R, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key) {
        Ok(Some((Value::Object(ObjType::Text), id))) => doc.text(&id).ok(),
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// An integer (signed, unsigned, counter or timestamp scalar).
pub(crate) fn int<R: ReadDoc + ?Sized>(doc: &R, obj: &ObjId, key: &str) -> Option<i64> {
    match scalar(doc, obj, key)? {
        ScalarValue::Int(i) => Some(i),
        ScalarValue::Uint(u) => i64::try_from(u).ok(),
        ScalarValue::Timestamp(t) => Some(t),
        ScalarValue::Counter(c) => Some(i64::from(&c)),
        ScalarValue::F64(f) if f.is_finite() && f.fract() == 0.0 => Some(f as i64),
        _ => None,
    }
}

/// A finite float (integers are accepted too).
pub(crate) fn float<R: ReadDoc + ?Sized>(doc: &R, obj: &ObjId, key: &str) -> Option<f64> {
    match scalar(doc, obj, key)? {
        ScalarValue::F64(f) if f.is_finite() => Some(f),
        ScalarValue::Int(i) => Some(i as f64),
        ScalarValue::Uint(u) => Some(u as f64),
        _ => None,
    }
}

/// A boolean.
pub(crate) fn boolean<R: ReadDoc + ?Sized>(doc: &R, obj: &ObjId, key: &str) -> Option<bool> {
    match scalar(doc, obj, key)? {
        ScalarValue::Boolean(b) => Some(b),
        _ => None,
    }
}

/// A string scalar parsed as `T` (ids and keyed enums).
pub(crate) fn parsed<T: FromStr, R: ReadDoc + ?Sized>(doc: &R, obj: &ObjId, key: &str) -> Option<T> {
    string(doc, obj, key)?.parse().ok()
}

/// The entries of a map of maps keyed by id; entries whose key or value is not understood
/// are skipped.
pub(crate) fn entries<T: FromStr, R: ReadDoc + ?Sized>(doc: &R, map: &ObjId) -> Vec<(T, ObjId)> {
    doc.map_range(map, ..)
        .filter_map(|item| match item.value {
            automerge::ValueRef::Object(ObjType::Map) => Some((item.key.parse().ok()?, item.id())),
            _ => None,
        })
        .collect()
}

/// The keys of a map whose values are `true` (sets such as note sources or devices).
pub(crate) fn set_members<T: FromStr, R: ReadDoc + ?Sized>(doc: &R, map: &ObjId) -> Vec<T> {
    doc.map_range(map, ..)
        .filter_map(|item| match item.value {
            automerge::ValueRef::Scalar(automerge::ScalarValueRef::Boolean(true)) => item.key.parse().ok(),
            _ => None,
        })
        .collect()
}

/// Looks up an object by id in a root collection.
pub(crate) fn find<R: ReadDoc + ?Sized>(
    doc: &R,
    collection: &str,
    id: &str,
    kind: ObjectKind,
) -> Result<ObjId> {
    let map = root(doc, collection)?;
    child_map(doc, &map, id).ok_or(WorkshopError::NotFound(kind))
}

/// Limits on the length of text, in characters.
pub(crate) mod limit {
    pub(crate) const TITLE: usize = 120;
    pub(crate) const PURPOSE: usize = 1_000;
    pub(crate) const GROUND_RULE: usize = 200;
    pub(crate) const NOTE: usize = 1_000;
    pub(crate) const STATEMENT: usize = 500;
    pub(crate) const BEHAVIOUR: usize = 300;
    pub(crate) const EASY_READ: usize = 200;
    pub(crate) const REASON: usize = 1_000;
    pub(crate) const CHALLENGE: usize = 1_000;
    pub(crate) const REFLECTION: usize = 1_000;
    pub(crate) const ACTION: usize = 300;
}

/// Checks new text: trimmed non-empty (when `required`) and within `max` characters.
/// Returns the text with surrounding white space trimmed.
pub(crate) fn checked_text(text: &str, max: usize, required: bool) -> Result<String> {
    let trimmed = text.trim();
    if required && trimmed.is_empty() {
        return Err(Refusal::EmptyText.into());
    }
    let len = trimmed.chars().count();
    if len > max {
        return Err(Refusal::TooLong { max, len }.into());
    }
    Ok(trimmed.to_owned())
}

/// Creates a Text object under `key` holding `value`.
pub(crate) fn put_text<T: Transactable>(tx: &mut T, obj: &ObjId, key: &str, value: &str) -> Result<ObjId> {
    let id = tx.put_object(obj, key, ObjType::Text)?;
    if !value.is_empty() {
        tx.splice_text(&id, 0, 0, value)?;
    }
    Ok(id)
}

/// An edit to collaboratively edited text.
///
/// Positions count Unicode code points (Automerge's default text encoding in Rust); front
/// ends that count UTF-16 units convert at their boundary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TextEdit {
    /// Delete `delete` characters at `index`, then insert `insert` there. Concurrent splices
    /// from other devices merge character by character.
    Splice {
        /// Where the edit starts.
        index: usize,
        /// How many characters to delete.
        delete: usize,
        /// What to insert.
        insert: String,
    },
    /// Replace the whole text; stored as the smallest set of splices, so concurrent edits
    /// elsewhere in the text survive.
    Replace {
        /// The new text.
        text: String,
    },
}

/// Applies a text edit to the Text object under `key`, checking the result's length.
/// Returns the new text.
pub(crate) fn edit_text<T: Transactable + ReadDoc>(
    tx: &mut T,
    obj: &ObjId,
    key: &str,
    edit: &TextEdit,
    max: usize,
    required: bool,
) -> Result<String> {
    let id = match tx.get(obj, key)? {
        Some((Value::Object(ObjType::Text), id)) => id,
        // A missing or non-text field (written by a foreign or damaged writer) is replaced
        // by a fresh Text holding the old string, so the edit still applies.
        _ => {
            let old = text(tx, obj, key).unwrap_or_default();
            put_text(tx, obj, key, &old)?
        }
    };
    let current = tx.text(&id)?;
    let new = match edit {
        TextEdit::Replace { text } => text.clone(),
        TextEdit::Splice { index, delete, insert } => {
            let chars: Vec<char> = current.chars().collect();
            let end = index.checked_add(*delete).ok_or(Refusal::EditOutOfRange)?;
            if end > chars.len() {
                return Err(Refusal::EditOutOfRange.into());
            }
            let mut s: String = chars[..*index].iter().collect();
            s.push_str(insert);
            s.extend(&chars[end..]);
            s
        }
    };
    if required && new.trim().is_empty() {
        return Err(Refusal::EmptyText.into());
    }
    let len = new.chars().count();
    if len > max {
        return Err(Refusal::TooLong { max, len }.into());
    }
    match edit {
        TextEdit::Replace { text } => tx.update_text(&id, text)?,
        TextEdit::Splice { index, delete, insert } => {
            let delete = isize::try_from(*delete).map_err(|_| Refusal::EditOutOfRange)?;
            tx.splice_text(&id, *index, delete, insert)?;
        }
    }
    Ok(new)
}

/// A value read from a map field.
#[derive(Debug, Clone)]
pub(crate) enum Field {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Obj(ObjId, ObjType),
    Other,
}

/// All fields of one map, read in a single pass: much cheaper than one `get` per field on
/// hot paths such as the board view.
#[derive(Debug, Default)]
pub(crate) struct Fields(Vec<(String, Field)>);

impl Fields {
    pub(crate) fn read<R: ReadDoc + ?Sized>(doc: &R, obj: &ObjId) -> Self {
        use automerge::ScalarValueRef as S;
        use automerge::ValueRef as V;
        Fields(
            doc.map_range(obj, ..)
                .map(|item| {
                    let field = match &item.value {
                        V::Object(t) => Field::Obj(item.id(), *t),
                        V::Scalar(S::Str(s)) => Field::Str(s.to_string()),
                        V::Scalar(S::Int(i) | S::Timestamp(i) | S::Counter(i)) => Field::Int(*i),
                        V::Scalar(S::Uint(u)) => i64::try_from(*u).map_or(Field::Other, Field::Int),
                        V::Scalar(S::F64(f)) if f.is_finite() => Field::Float(*f),
                        V::Scalar(S::Boolean(b)) => Field::Bool(*b),
                        V::Scalar(_) => Field::Other,
                    };
                    (item.key.into_owned(), field)
                })
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&Field> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, f)| f)
    }

    pub(crate) fn string(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Field::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Field::Int(i) => Some(*i),
            Field::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    }

    pub(crate) fn float(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            Field::Float(f) => Some(*f),
            Field::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    pub(crate) fn boolean(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Field::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Text stored as a Text object (or, from foreign writers, a plain string).
    pub(crate) fn text<R: ReadDoc + ?Sized>(&self, doc: &R, key: &str) -> Option<String> {
        match self.get(key)? {
            Field::Obj(id, ObjType::Text) => doc.text(id).ok(),
            Field::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
}
