//! Bucketing, the same as Unleash's `normalizedHash`, so users moving from Unleash keep their
//! assignment: the rollout bucket, `murmur3_x86_32(group + ":" + user, seed 0) % 100 + 1`,
//! and the variant split, `murmur3_x86_32(group + ":" + value, seed 86028157) % total + 1`
//! over the variants' weights.

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
    joined_hash(group, user, 0) % 100 + 1
}

/// The seed of the variant split (Unleash's), so a variant is not the same draw as the
/// rollout it follows.
pub const VARIANT_SEED: u32 = 86_028_157;

/// Which of `weights` the stickiness `value` gets in group `group`: the first whose running
/// sum of weights reaches `murmur3(group:value, VARIANT_SEED) % total + 1`. `None` when the
/// weights sum to 0 (no variant to split into).
pub fn split(
    weights: impl IntoIterator<Item = u32> + Clone,
    group: &str,
    value: &str,
) -> Option<usize> {
    let total: u32 = weights.clone().into_iter().fold(0, u32::saturating_add);
    if total == 0 {
        return None;
    }
    let target = joined_hash(group, value, VARIANT_SEED) % total + 1;
    let mut sum = 0u32;
    weights.into_iter().position(|w| {
        sum = sum.saturating_add(w);
        sum >= target
    })
}

/// murmur3_x86_32 of `group`, `:` and `user` as one string, without allocating.
#[inline]
fn joined_hash(group: &str, user: &str, seed: u32) -> u32 {
    let (group, user) = (group.as_bytes(), user.as_bytes());
    let len = group.len() + 1 + user.len();
    if len <= INLINE {
        let mut joined = [0u8; INLINE];
        joined[..group.len()].copy_from_slice(group);
        joined[group.len()] = b':';
        joined[group.len() + 1..len].copy_from_slice(user);
        mur3::murmurhash3_x86_32(&joined[..len], seed)
    } else {
        let mut hasher = mur3::Hasher32::with_seed(seed);
        hasher.write(group);
        hasher.write(b":");
        hasher.write(user);
        hasher.finish32()
    }
}

#[cfg(test)]
mod tests {
    use super::{INLINE, VARIANT_SEED, bucket, split};

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

    #[test]
    fn a_split_lands_where_the_running_sum_of_weights_reaches_the_draw() {
        let draw = |group: &str, value: &str, total: u32| {
            let joined = format!("{group}:{value}");
            murmur3::murmur3_32(&mut joined.as_bytes(), VARIANT_SEED).unwrap() % total + 1
        };
        for user in 0..200 {
            let user = user.to_string();
            let target = draw("f", &user, 1000);
            let expected = if target <= 250 {
                0
            } else if target <= 750 {
                1
            } else {
                2
            };
            assert_eq!(
                split([250, 500, 250], "f", &user),
                Some(expected),
                "user {user}"
            );
        }
        assert_eq!(split([0, 0], "f", "u"), None);
        assert_eq!(
            split([0, 7], "f", "u"),
            Some(1),
            "a weight of 0 is never drawn"
        );
    }
}
