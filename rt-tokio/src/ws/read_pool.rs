//! A per-thread pool of idle read buffers. A WebSocket whose read would block lets its empty
//! read buffer go, so an idle connection holds none; the buffer goes here, and the next read
//! on this thread that needs one takes it back instead of allocating (and freeing) a new one
//! per message.
//!
//! Invariants: a pooled buffer is empty, with room from [`POOL_BUFFER_MIN`] to
//! [`POOL_BUFFER_MAX`] bytes (its whole allocation once the messages sliced from it are
//! dropped); the pool holds at most [`POOL_BUFFERS`] of them (256 KiB per thread); anything
//! else is freed. A current-thread runtime reads one connection at a time, so one
//! buffer is usually all it needs.

use std::cell::RefCell;

use bytes::BytesMut;

/// The most buffers kept per thread.
const POOL_BUFFERS: usize = 8;
/// The largest buffer kept, in bytes (a connection's read buffer starts at 8 KiB and grows
/// while reads fill it).
const POOL_BUFFER_MAX: usize = 32 * 1024;
/// The least room a kept buffer has (less is not worth a read).
const POOL_BUFFER_MIN: usize = 4 * 1024;

thread_local! {
    static POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// Keep `buf` (emptied) for a later [`take`] if its room is between [`POOL_BUFFER_MIN`] and
/// [`POOL_BUFFER_MAX`] bytes and the pool has room; else free it. Room in a buffer is its own
/// even while messages sliced from the front of its allocation are alive; once they are
/// dropped, the front is room again.
pub(crate) fn put(mut buf: BytesMut) {
    buf.clear();
    if buf.capacity() < POOL_BUFFER_MIN {
        // Take back the front of the allocation if nothing else refers to it (no copy; a
        // `false` only means the room stays what it is).
        let _ = buf.try_reclaim(buf.capacity() + 1);
    }
    if !(POOL_BUFFER_MIN..=POOL_BUFFER_MAX).contains(&buf.capacity()) {
        return;
    }
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < POOL_BUFFERS {
            pool.push(buf);
        }
    });
}

/// An empty buffer from the pool, if it has one.
pub(crate) fn take() -> Option<BytesMut> {
    POOL.try_with(|pool| pool.borrow_mut().pop()).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pooled() -> usize {
        POOL.with(|p| p.borrow().len())
    }

    #[test]
    fn keeps_buffers_with_room_up_to_its_bounds_and_hands_them_back() {
        while take().is_some() {}
        // A buffer a message was split from: kept with its room; once the message is dropped
        // the front of its allocation is room again (the reader takes it back when it needs
        // room, and so does `put` when the room alone is too small).
        let mut buf = BytesMut::with_capacity(8 * 1024);
        let at = buf.as_ptr();
        buf.extend_from_slice(&[2; 100]);
        drop(buf.split_to(100).freeze());
        put(buf);
        assert_eq!(pooled(), 1);
        let mut back = take().expect("pooled");
        assert!(back.is_empty());
        assert!(back.try_reclaim(8 * 1024));
        assert_eq!(back.as_ptr(), at, "the front was taken back");
        let mut small = BytesMut::with_capacity(POOL_BUFFER_MIN + 100);
        small.extend_from_slice(&[4; 200]);
        drop(small.split_to(200).freeze());
        put(small);
        assert!(take().expect("whole again").capacity() >= POOL_BUFFER_MIN + 100);
        // While a message is alive, only the room after it is the buffer's, and it is never
        // written over.
        let mut buf = back;
        buf.extend_from_slice(&[1; 100]);
        let message = buf.split_to(100).freeze();
        put(buf);
        let mut back = take().expect("pooled");
        assert!(back.capacity() >= 8 * 1024 - 100);
        back.extend_from_slice(&[3; 200]);
        assert_eq!(&message[..], &[1; 100][..]);
        drop(back);
        // Too large, too small: freed.
        put(BytesMut::with_capacity(POOL_BUFFER_MAX + 1));
        put(BytesMut::with_capacity(POOL_BUFFER_MIN - 1));
        put(BytesMut::new());
        assert_eq!(pooled(), 0);
        // At most POOL_BUFFERS.
        for _ in 0..POOL_BUFFERS + 3 {
            put(BytesMut::with_capacity(POOL_BUFFER_MIN));
        }
        assert_eq!(pooled(), POOL_BUFFERS);
        while take().is_some() {}
        assert!(take().is_none());
    }
}
