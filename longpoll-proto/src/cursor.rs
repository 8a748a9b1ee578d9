//! Cursors: where a client is in a channel's history.
//!
//! Every message in a channel has a [`Seq`] (1, 2, 3, … within an epoch, no holes). A channel
//! has an [`Epoch`] that changes whenever its history is lost (restart, explicit reset). A
//! [`Cursor`] `(epoch, seq)` names the last message a client has *received*; `seq == 0` means
//! "nothing yet in this epoch". The text form is `EPOCH:SEQ` in decimal, e.g. `17:42`.

use core::fmt;

use crate::error::CursorError;

/// A channel's history generation. Changes whenever history is lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(pub u64);

/// A message's position in its channel's history within one epoch (first message is 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seq(pub u64);

impl Seq {
    /// "Nothing received yet in this epoch".
    pub const ZERO: Seq = Seq(0);

    /// The next sequence number (saturating).
    pub const fn next(self) -> Seq {
        Seq(self.0.saturating_add(1))
    }
}

/// The last message a client has received: `(epoch, seq)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    /// The epoch the client's history belongs to.
    pub epoch: Epoch,
    /// The last sequence number received (0: none yet).
    pub seq: Seq,
}

/// The longest text form: two `u64` and a colon.
pub const MAX_CURSOR_TEXT_LEN: usize = 20 + 1 + 20;

impl Cursor {
    /// A cursor at `seq` in `epoch`.
    pub const fn new(epoch: u64, seq: u64) -> Self {
        Cursor {
            epoch: Epoch(epoch),
            seq: Seq(seq),
        }
    }

    /// The start of `epoch` (nothing received yet).
    pub const fn start_of(epoch: Epoch) -> Self {
        Cursor {
            epoch,
            seq: Seq::ZERO,
        }
    }

    /// Parses the text form `EPOCH:SEQ` (decimal, no sign, no spaces, no leading `+`).
    pub fn parse(text: &str) -> Result<Cursor, CursorError> {
        if text.len() > MAX_CURSOR_TEXT_LEN {
            return Err(CursorError::TooLong);
        }
        let (e, s) = text.split_once(':').ok_or(CursorError::MissingColon)?;
        Ok(Cursor {
            epoch: Epoch(parse_decimal(e)?),
            seq: Seq(parse_decimal(s)?),
        })
    }
}

/// Strict base-10 `u64`: a non-empty run of ASCII digits that fits.
pub(crate) fn parse_decimal(text: &str) -> Result<u64, CursorError> {
    if text.is_empty() {
        return Err(CursorError::NotANumber);
    }
    let mut value: u64 = 0;
    for b in text.bytes() {
        if !b.is_ascii_digit() {
            return Err(CursorError::NotANumber);
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(CursorError::Overflow)?;
    }
    Ok(value)
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.epoch.0, self.seq.0)
    }
}

impl core::str::FromStr for Cursor {
    type Err = CursorError;

    /// The same as [`Cursor::parse`].
    fn from_str(text: &str) -> Result<Cursor, CursorError> {
        Cursor::parse(text)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn parse_table() {
        let cases: &[(&str, Result<Cursor, CursorError>)] = &[
            ("0:0", Ok(Cursor::new(0, 0))),
            ("17:42", Ok(Cursor::new(17, 42))),
            (
                "18446744073709551615:18446744073709551615",
                Ok(Cursor::new(u64::MAX, u64::MAX)),
            ),
            ("18446744073709551616:0", Err(CursorError::Overflow)),
            ("1:", Err(CursorError::NotANumber)),
            (":1", Err(CursorError::NotANumber)),
            ("1:2:3", Err(CursorError::NotANumber)),
            ("12", Err(CursorError::MissingColon)),
            ("+1:2", Err(CursorError::NotANumber)),
            ("1: 2", Err(CursorError::NotANumber)),
            ("-1:2", Err(CursorError::NotANumber)),
            ("", Err(CursorError::MissingColon)),
            (
                "000000000000000000000000000000000000000000001:1",
                Err(CursorError::TooLong),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(&Cursor::parse(text), want, "{text:?}");
        }
    }

    #[test]
    fn from_str_is_parse() {
        assert_eq!("7:42".parse::<Cursor>(), Ok(Cursor::new(7, 42)));
        assert_eq!("7".parse::<Cursor>(), Err(CursorError::MissingColon));
    }

    #[test]
    fn display_round_trips() {
        for c in [
            Cursor::new(0, 0),
            Cursor::new(9, 1),
            Cursor::new(u64::MAX, 7),
        ] {
            assert_eq!(Cursor::parse(&c.to_string()), Ok(c));
        }
    }
}
