//! An OpenFeature provider (feature `openfeature`): apps on the `open-feature` crate evaluate
//! through a Switchyard `Client`, locally. Switchyard flags are boolean; other types answer
//! `TYPE_MISMATCH`. The context's targeting key is the user; a `market` string field the market.
//! Evaluations count exposures as the client's do (docs/api.md#release-plans). The `open-feature` crate (0.3)
//! has no tracking API yet; [`SwitchyardProvider::track`] is OpenFeature's `track` for when it
//! does, and for apps that call it directly: the event counts for every flag in a release
//! plan, with the variant the context's user gets.

use async_trait::async_trait;
use open_feature::provider::{
    FeatureProvider, ProviderMetadata, ProviderStatus, ResolutionDetails,
};
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue, EvaluationError, EvaluationErrorCode,
    EvaluationReason, EvaluationResult, FlagMetadata, StructValue,
};
use switchyard_core::openfeature::{self, OpenFeatureReason};
use switchyard_core::{Context, Reason};

use crate::client::{Client, Status};

/// Switchyard as an OpenFeature provider.
pub struct SwitchyardProvider {
    client: Client,
    metadata: ProviderMetadata,
}

impl SwitchyardProvider {
    /// A provider that evaluates with `client`.
    pub fn new(client: Client) -> Self {
        SwitchyardProvider {
            client,
            metadata: ProviderMetadata::new("switchyard"),
        }
    }

    /// OpenFeature's `track(event, context)`: counts `event` for every flag whose release
    /// plan is running or paused, attributed to the variant the context's user gets.
    pub fn track(&self, event: &str, evaluation_context: &EvaluationContext) {
        self.client.track_all(event, &context(evaluation_context));
    }
}

/// The Switchyard context of an OpenFeature one: the targeting key and `market`.
fn context(evaluation_context: &EvaluationContext) -> Context<'_> {
    let mut ctx = Context::new();
    if let Some(user) = &evaluation_context.targeting_key {
        ctx = ctx.user(user.as_str());
    }
    if let Some(EvaluationContextFieldValue::String(market)) =
        evaluation_context.custom_fields.get("market")
    {
        ctx = ctx.market(market.as_str());
    }
    ctx
}

fn reason(reason: OpenFeatureReason) -> EvaluationReason {
    match reason {
        OpenFeatureReason::Static => EvaluationReason::Static,
        OpenFeatureReason::TargetingMatch => EvaluationReason::TargetingMatch,
        OpenFeatureReason::Split => EvaluationReason::Split,
        OpenFeatureReason::Disabled => EvaluationReason::Disabled,
        OpenFeatureReason::Default => EvaluationReason::Default,
        OpenFeatureReason::Error => EvaluationReason::Error,
        other => EvaluationReason::Other(other.as_str().to_owned()),
    }
}

fn mismatch<T>() -> EvaluationResult<T> {
    Err(EvaluationError {
        code: EvaluationErrorCode::TypeMismatch,
        message: Some("Switchyard flags are boolean".into()),
    })
}

#[async_trait]
impl FeatureProvider for SwitchyardProvider {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    fn status(&self) -> ProviderStatus {
        match self.client.status() {
            Status::Starting => ProviderStatus::NotReady,
            Status::Bootstrap | Status::Ready | Status::Stale { .. } => ProviderStatus::Ready,
            Status::Unauthorized { .. } => ProviderStatus::Error,
        }
    }

    async fn resolve_bool_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        let decision = self
            .client
            .evaluate_or(flag_key, &context(evaluation_context), false);
        let code = match decision.reason {
            Reason::NoData => Some((
                EvaluationErrorCode::ProviderNotReady,
                "no flags loaded yet".into(),
            )),
            Reason::FlagNotFound => Some((
                EvaluationErrorCode::FlagNotFound,
                format!("no flag has the key {flag_key:?}"),
            )),
            _ => None,
        };
        if let Some((code, message)) = code {
            return Err(EvaluationError {
                code,
                message: Some(message),
            });
        }
        let metadata = FlagMetadata::default()
            .with_value("reason", decision.reason.as_str())
            .with_value("version", decision.version.unwrap_or(0) as i64);
        let reason_name = self
            .client
            .with_snapshot(|s| openfeature::reason_of(&decision, s.and_then(|s| s.get(flag_key))));
        Ok(ResolutionDetails {
            value: decision.enabled,
            variant: Some(decision.variant.as_str().to_owned()),
            reason: Some(reason(reason_name)),
            flag_metadata: Some(metadata),
        })
    }

    async fn resolve_int_value(
        &self,
        _: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        mismatch()
    }

    async fn resolve_float_value(
        &self,
        _: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        mismatch()
    }

    async fn resolve_string_value(
        &self,
        _: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        mismatch()
    }

    async fn resolve_struct_value(
        &self,
        _: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        mismatch()
    }
}
