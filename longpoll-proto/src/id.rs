//! Names: [`ChannelName`], [`ClientId`] (both chosen by the application, validated tokens)
//! and [`PollId`] (assigned by the hub to each poll request).
//!
//! Names are restricted to URL-safe characters (`A-Z a-z 0-9 - _ . ~ : @ /`) and at most
//! [`MAX_NAME_LEN`] bytes, so they travel in a query string or header without escaping and
//! cannot be used to smuggle anything into a response.

use alloc::boxed::Box;
use core::fmt;

use crate::error::NameError;

/// The longest channel name or client id, in bytes.
pub const MAX_NAME_LEN: usize = 128;

fn validate(text: &str) -> Result<(), NameError> {
    if text.is_empty() {
        return Err(NameError::Empty);
    }
    if text.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong { max: MAX_NAME_LEN });
    }
    match text.bytes().position(|b| !is_name_byte(b)) {
        Some(at) => Err(NameError::InvalidByte { at }),
        None => Ok(()),
    }
}

pub(crate) fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':' | b'@' | b'/')
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Box<str>);

        impl $name {
            /// Validates and copies `text`.
            pub fn new(text: &str) -> Result<Self, NameError> {
                validate(text)?;
                Ok($name(Box::from(text)))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// The name of a channel (a topic clients poll and publishers publish to).
    ChannelName
);
name_type!(
    /// A client's session identity, chosen by the client (e.g. a random token) and sent
    /// with every poll so the hub can supersede duplicates and expire idle sessions.
    ClientId
);

/// The hub's handle for one poll request. The driver keeps `PollId → connection` and sends
/// each [`Response`](crate::Response) to the connection with that id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PollId(pub u64);

impl fmt::Display for PollId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "poll#{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    #[test]
    fn validation_table() {
        let long = String::from("a").repeat(MAX_NAME_LEN + 1);
        let cases: &[(&str, Result<(), NameError>)] = &[
            ("news", Ok(())),
            ("user:42/inbox", Ok(())),
            ("a-b_c.d~e@f", Ok(())),
            ("", Err(NameError::Empty)),
            ("a b", Err(NameError::InvalidByte { at: 1 })),
            ("a\r\nX: y", Err(NameError::InvalidByte { at: 1 })),
            ("caf\u{e9}", Err(NameError::InvalidByte { at: 3 })),
            ("a&b", Err(NameError::InvalidByte { at: 1 })),
            (&long, Err(NameError::TooLong { max: MAX_NAME_LEN })),
        ];
        for (text, want) in cases {
            assert_eq!(&ChannelName::new(text).map(|_| ()), want, "{text:?}");
            assert_eq!(&ClientId::new(text).map(|_| ()), want, "{text:?}");
        }
        assert_eq!(ChannelName::new("x").unwrap().as_str(), "x");
    }
}
