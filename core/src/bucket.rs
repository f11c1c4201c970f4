//! The rollout bucket: `murmur3_x86_32(group + ":" + user, seed 0) % 100 + 1`, the same value
//! as Unleash's `normalizedHash`, so users moving from Unleash keep their assignment.

use std::io::Read;

/// Joined keys up to this long are hashed from a stack buffer; longer ones (user ids are not
/// length-limited in a context) are streamed. Both hash the same bytes.
const INLINE: usize = 256;

/// The bucket (1..=100) of `user` in stickiness group `group`.
///
/// A user is inside a rollout of `p` percent when `bucket <= p`. Hashes the bytes of
/// `group`, `:` and `user` as one stream, without allocating: the `murmur3` crate reads a
/// single slice about twice as fast as a chained reader, so short keys are first joined in
/// a stack buffer.
pub fn bucket(group: &str, user: &str) -> u32 {
    let (group, user) = (group.as_bytes(), user.as_bytes());
    let len = group.len() + 1 + user.len();
    let hash = if len <= INLINE {
        let mut joined = [0u8; INLINE];
        joined[..group.len()].copy_from_slice(group);
        joined[group.len()] = b':';
        joined[group.len() + 1..len].copy_from_slice(user);
        murmur3_32(&mut &joined[..len])
    } else {
        murmur3_32(&mut group.chain(&b":"[..]).chain(user))
    };
    hash % 100 + 1
}

fn murmur3_32(bytes: &mut impl Read) -> u32 {
    // Reading from in-memory slices cannot fail; the Result is only the crate's `Read` API.
    murmur3::murmur3_32(bytes, 0).expect("reading from memory cannot fail")
}

#[cfg(test)]
mod tests {
    use super::bucket;

    #[test]
    fn spec_vectors() {
        // SPEC §2: in group AB12A, user 122 has bucket 23 and user 155 bucket 100.
        assert_eq!(bucket("AB12A", "122"), 23);
        assert_eq!(bucket("AB12A", "155"), 100);
    }

    #[test]
    fn hashes_the_joined_string() {
        let joined = "grp:user-42";
        let direct = murmur3::murmur3_32(&mut joined.as_bytes(), 0).unwrap() % 100 + 1;
        assert_eq!(bucket("grp", "user-42"), direct);
    }

    #[test]
    fn long_keys_take_the_streamed_path_and_hash_alike() {
        for user_len in [250, 254, 255, 256, 1000] {
            let user = "u".repeat(user_len);
            let joined = format!("grp:{user}");
            let direct = murmur3::murmur3_32(&mut joined.as_bytes(), 0).unwrap() % 100 + 1;
            assert_eq!(bucket("grp", &user), direct, "user of {user_len} bytes");
        }
    }
}
