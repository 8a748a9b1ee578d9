//! A minimal slab: dense `u32` keys with a free list, so hub records refer to channels and
//! sessions by 4-byte keys instead of cloned names.
//!
//! Invariant: a key handed out by `insert` stays valid until `remove`; removed keys are
//! reused. Callers never keep a key past `remove` (the hub only removes a session with no
//! held polls, and a channel with no held poll, no acknowledgement and no pending flush).

use alloc::vec::Vec;

#[derive(Debug, Clone)]
pub(crate) struct Slab<T> {
    entries: Vec<Option<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Slab<T> {
    pub(crate) fn new() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn insert(&mut self, value: T) -> u32 {
        self.len += 1;
        match self.free.pop() {
            Some(key) => {
                self.entries[key as usize] = Some(value);
                key
            }
            None => {
                self.entries.push(Some(value));
                (self.entries.len() - 1) as u32
            }
        }
    }

    pub(crate) fn remove(&mut self, key: u32) -> Option<T> {
        let value = self.entries.get_mut(key as usize)?.take()?;
        self.free.push(key);
        self.len -= 1;
        Some(value)
    }

    pub(crate) fn get(&self, key: u32) -> Option<&T> {
        self.entries.get(key as usize)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, key: u32) -> Option<&mut T> {
        self.entries.get_mut(key as usize)?.as_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_reused_and_lookups_checked() {
        let mut s = Slab::new();
        let a = s.insert('a');
        let b = s.insert('b');
        assert_eq!((a, b, s.len()), (0, 1, 2));
        assert_eq!(s.remove(a), Some('a'));
        assert_eq!(s.remove(a), None);
        assert_eq!(s.get(a), None);
        assert_eq!(s.insert('c'), a);
        assert_eq!(s.get(a), Some(&'c'));
        *s.get_mut(b).unwrap() = 'B';
        assert_eq!(s.get(b), Some(&'B'));
        assert_eq!(s.get(99), None);
        assert_eq!(s.len(), 2);
    }
}
