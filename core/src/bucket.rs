//! The rollout bucket: `murmur3_x86_32(group + ":" + user, seed 0) % 100 + 1`, the same value
//! as Unleash's `normalizedHash`, so users moving from Unleash keep their assignment.

use std::hash::Hasher as _;

/// Joined keys up to this long are hashed from a stack buffer in one pass; longer ones (user
/// ids may be up to 1,024 bytes) are streamed through the hasher. Both hash the same bytes.
/// Small enough that zeroing the buffer costs little next to the hash.
const INLINE: usize = 64;

/// The bucket (1..=100) of `user` in stickiness group `group`.
///
/// A user is inside a rollout of `p` percent when `bucket <= p`. Hashes the bytes of
/// `group`, `:` and `user` as one string, without allocating.
pub fn bucket(group: &str, user: &str) -> u32 {
    let (group, user) = (group.as_bytes(), user.as_bytes());
    let len = group.len() + 1 + user.len();
    let hash = if len <= INLINE {
        let mut joined = [0u8; INLINE];
        joined[..group.len()].copy_from_slice(group);
        joined[group.len()] = b':';
        joined[group.len() + 1..len].copy_from_slice(user);
        mur3::murmurhash3_x86_32(&joined[..len], 0)
    } else {
        let mut hasher = mur3::Hasher32::with_seed(0);
        hasher.write(group);
        hasher.write(b":");
        hasher.write(user);
        hasher.finish32()
    };
    hash % 100 + 1
}

#[cfg(test)]
mod tests {
    use super::{INLINE, bucket};

    /// The bucket by the reference implementation (the `murmur3` crate) of the joined string.
    fn reference(group: &str, user: &str) -> u32 {
        let joined = format!("{group}:{user}");
        murmur3::murmur3_32(&mut joined.as_bytes(), 0).unwrap() % 100 + 1
    }

    #[test]
    fn spec_vectors() {
        // docs/flags.md#the-decision: in group AB12A, user 122 has bucket 23 and user 155 bucket 100.
        assert_eq!(bucket("AB12A", "122"), 23);
        assert_eq!(bucket("AB12A", "155"), 100);
    }

    #[test]
    fn hashes_the_joined_string() {
        assert_eq!(bucket("grp", "user-42"), reference("grp", "user-42"));
        assert_eq!(bucket("", ""), reference("", ""));
    }

    #[test]
    fn every_length_around_the_inline_buffer_hashes_alike() {
        // Both paths, and every tail length (0-3 bytes past a 4-byte block) of each.
        for user_len in (0..INLINE + 8).chain([250, 256, 1000, 1024]) {
            let user = "u".repeat(user_len);
            assert_eq!(
                bucket("grp", &user),
                reference("grp", &user),
                "user of {user_len} bytes"
            );
        }
    }
}
