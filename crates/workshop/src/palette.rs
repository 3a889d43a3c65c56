//! Colours and symbols.
//!
//! Colour is never the only way something is shown: every participant also has a symbol,
//! and every colour has a plain-English name. The sticky-note colours are light enough that
//! the house text colour on them meets WCAG AA (4.5:1); a test checks every one.

/// The text colour drawn on every sticky note.
pub const NOTE_TEXT_HEX: &str = "#1d1d1b";

crate::keyed::keyed_enum!(
    /// A colour from the shared palette, for a participant or a sticky note.
    Colour {
        /// Yellow.
        Sun = "sun",
        /// Light blue.
        Sky = "sky",
        /// Light green.
        Leaf = "leaf",
        /// Pink.
        Rose = "rose",
        /// Light purple.
        Lilac = "lilac",
        /// Sand.
        Sand = "sand",
        /// Mint.
        Mint = "mint",
        /// Orange.
        Peach = "peach",
    }
);

impl Colour {
    /// The plain-English name of the colour, for people and screen readers.
    pub fn label(self) -> &'static str {
        match self {
            Colour::Sun => "yellow",
            Colour::Sky => "blue",
            Colour::Leaf => "green",
            Colour::Rose => "pink",
            Colour::Lilac => "purple",
            Colour::Sand => "sand",
            Colour::Mint => "mint",
            Colour::Peach => "orange",
        }
    }

    /// The background colour as `#rrggbb`.
    pub fn hex(self) -> &'static str {
        match self {
            Colour::Sun => "#fff3a3",
            Colour::Sky => "#cfe8ff",
            Colour::Leaf => "#d3f2cf",
            Colour::Rose => "#ffd6e2",
            Colour::Lilac => "#e6dcff",
            Colour::Sand => "#f1e4cc",
            Colour::Mint => "#c9f1ea",
            Colour::Peach => "#ffdcc2",
        }
    }
}

crate::keyed::keyed_enum!(
    /// A small symbol shown beside a name, so two people with the same first name (and
    /// anyone who cannot tell colours apart) can still be told apart.
    Symbol {
        /// ●
        Circle = "circle",
        /// ▲
        Triangle = "triangle",
        /// ■
        Square = "square",
        /// ◆
        Diamond = "diamond",
        /// ★
        Star = "star",
        /// ♥
        Heart = "heart",
        /// ✚
        Cross = "cross",
        /// ☾
        Moon = "moon",
    }
);

impl Symbol {
    /// The symbol as a character.
    pub fn glyph(self) -> &'static str {
        match self {
            Symbol::Circle => "●",
            Symbol::Triangle => "▲",
            Symbol::Square => "■",
            Symbol::Diamond => "◆",
            Symbol::Star => "★",
            Symbol::Heart => "♥",
            Symbol::Cross => "✚",
            Symbol::Moon => "☾",
        }
    }

    /// The symbol's name in plain English, for screen readers.
    pub fn label(self) -> &'static str {
        self.key()
    }
}

/// WCAG 2 contrast ratio between two `#rrggbb` colours.
pub fn contrast_ratio(a: &str, b: &str) -> Option<f64> {
    let la = relative_luminance(a)?;
    let lb = relative_luminance(b)?;
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    Some((hi + 0.05) / (lo + 0.05))
}

fn relative_luminance(hex: &str) -> Option<f64> {
    let hex = hex.strip_prefix('#')?;
    if hex.len() != 6 {
        return None;
    }
    let channel = |i: usize| -> Option<f64> {
        let v = f64::from(u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()?) / 255.0;
        Some(if v <= 0.039_28 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) })
    };
    Some(0.2126 * channel(0)? + 0.7152 * channel(2)? + 0.0722 * channel(4)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_note_colour_meets_wcag_aa_with_the_note_text() {
        for c in Colour::ALL {
            let ratio = contrast_ratio(c.hex(), NOTE_TEXT_HEX).unwrap();
            assert!(ratio >= 4.5, "{c} has contrast {ratio:.2}");
        }
    }

    #[test]
    fn keys_round_trip() {
        for c in Colour::ALL {
            assert_eq!(c.key().parse::<Colour>(), Ok(*c));
        }
        for s in Symbol::ALL {
            assert_eq!(s.key().parse::<Symbol>(), Ok(*s));
        }
        assert!("tartan".parse::<Colour>().is_err());
    }

    #[test]
    fn contrast_ratio_matches_known_values() {
        let white_black = contrast_ratio("#ffffff", "#000000").unwrap();
        assert!((white_black - 21.0).abs() < 0.01);
        assert_eq!(contrast_ratio("fff", "#000000"), None);
    }
}
