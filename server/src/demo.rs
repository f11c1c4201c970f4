//! `--demo`: seeds a few example flags into an empty store, so a first run has something to
//! evaluate. Written through the normal write path, so they are versioned and audited.

use serde_json::json;

use crate::auth::{Caller, Role};
use crate::changes::{FlagInput, Precondition};
use crate::error::ApiError;
use crate::state::AppState;

/// The demo flags: a new feature behind a whitelist at 0 %, a partial rollout, a full one.
fn demo_flags() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "new-onboarding",
            json!({"description": "New onboarding flow: internal users first", "enabled": true,
                   "rollout_percentage": 0, "markets": ["FR", "US", "UK"],
                   "whitelist": ["internal-user-1", "internal-user-2"]}),
        ),
        (
            "checkout-v2",
            json!({"description": "Second checkout, rolling out", "enabled": true,
                   "rollout_percentage": 25}),
        ),
        (
            "dark-mode",
            json!({"description": "Dark theme, released", "enabled": true,
                   "rollout_percentage": 100}),
        ),
    ]
}

/// Seeds the demo flags when the store holds none.
pub async fn seed(state: &AppState) -> Result<(), ApiError> {
    if !state.store().load().await?.flags.is_empty() {
        return Ok(());
    }
    let caller = Caller {
        name: "demo-seed".into(),
        role: Role::Admin,
    };
    let writer = state.writer(&caller)?;
    for (key, body) in demo_flags() {
        let input = FlagInput::from_object(body.as_object().cloned().unwrap_or_default())?;
        writer.put(key, input, Precondition::NONE).await?;
    }
    tracing::info!("seeded the demo flags");
    Ok(())
}
