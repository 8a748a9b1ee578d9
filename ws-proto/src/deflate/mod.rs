//! permessage-deflate (RFC 7692): being written.
