//! Bridges from the caller's rng to the rng interfaces of the crates we build on.
//!
//! This crate never draws OS randomness: every random byte comes from the rng the caller
//! passes in (`rand_core` 0.9, as the rest of the workspace uses). `spake2` 0.4 wants a
//! `rand_core` 0.6 rng and `snow` wants its own `Random` trait, so both get an adapter here.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore};

/// Lends the caller's rng to code written against `rand_core` 0.6 (`spake2` 0.4).
pub(crate) struct Rng06<'a, R: ?Sized>(pub(crate) &'a mut R);

impl<R: RngCore + ?Sized> rand_core_06::RngCore for Rng06<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core_06::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

// The adapter is exactly as strong as the rng it wraps, which the caller promised is a CSPRNG.
impl<R: CryptoRng + ?Sized> rand_core_06::CryptoRng for Rng06<'_, R> {}

/// An rng that `snow` can own (it must be `Send + Sync + 'static`, so it can't borrow the
/// caller's): ChaCha20 seeded with 32 bytes drawn from the caller's rng.
pub(crate) struct SnowRng(ChaCha20Rng);

impl SnowRng {
    /// Seeds a new generator from the caller's rng.
    pub(crate) fn from_rng<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let inner = ChaCha20Rng::from_seed(seed);
        zeroize::Zeroize::zeroize(&mut seed);
        Self(inner)
    }
}

impl snow::types::Random for SnowRng {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        rand_chacha::rand_core::RngCore::fill_bytes(&mut self.0, dest);
        Ok(())
    }
}
