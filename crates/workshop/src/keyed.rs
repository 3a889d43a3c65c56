//! A small macro for enums stored in the document as stable string keys.
//!
//! Unknown keys (written by a newer version, or damaged) parse as `Err(())` and the caller
//! decides what a safe reading is; nothing panics on what a peer wrote.

macro_rules! keyed_enum {
    (
        $(#[$doc:meta])* $name:ident {
            $($(#[$vdoc:meta])* $variant:ident = $key:literal),* $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        #[cfg_attr(feature = "ts", derive(::ts_rs::TS))]
        pub enum $name { $($(#[$vdoc])* #[serde(rename = $key)] $variant),* }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The stable key stored in the document.
            pub fn key(self) -> &'static str {
                match self { $($name::$variant => $key),* }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ();

            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($key => Ok($name::$variant),)* _ => Err(()) }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.key())
            }
        }
    };
}

pub(crate) use keyed_enum;
