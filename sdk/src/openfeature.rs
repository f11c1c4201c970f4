//! An OpenFeature provider (feature `openfeature`): apps on the `open-feature` crate evaluate
//! through a Switchyard `Client`, locally, for every type: a boolean flag serves booleans, a
//! flag with variants its values' type, and asking another type is `TYPE_MISMATCH`. The
//! context's targeting key is the user; every custom field an attribute (`market` too).
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
    EvaluationReason, EvaluationResult, FlagMetadata, StructValue, Value,
};
use switchyard_core::openfeature::OpenFeatureReason;
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

/// The Switchyard context of an OpenFeature one: the targeting key is the user, and every
/// custom field an attribute (`market` included): strings as they are, numbers and
/// booleans as their text, a date and time as RFC 3339; a struct is left out.
fn context(evaluation_context: &EvaluationContext) -> Context<'_> {
    let mut ctx = Context::new();
    if let Some(user) = &evaluation_context.targeting_key {
        ctx = ctx.user(user.as_str());
    }
    for (name, value) in &evaluation_context.custom_fields {
        let text: std::borrow::Cow<'_, str> = match value {
            EvaluationContextFieldValue::String(s) => s.as_str().into(),
            EvaluationContextFieldValue::Bool(b) => b.to_string().into(),
            EvaluationContextFieldValue::Int(n) => n.to_string().into(),
            EvaluationContextFieldValue::Float(x) => x.to_string().into(),
            EvaluationContextFieldValue::DateTime(t) => {
                match chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()) {
                    Some(t) => t.to_rfc3339().into(),
                    None => continue,
                }
            }
            EvaluationContextFieldValue::Struct(_) => continue,
        };
        ctx = ctx.with(name.as_str(), text);
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

/// Resolves `flag_key` and reads its value as the type asked with `read`; a value of
/// another type is `TYPE_MISMATCH`, an unknown flag `FLAG_NOT_FOUND`, no data yet
/// `PROVIDER_NOT_READY`.
fn resolve<T>(
    provider: &SwitchyardProvider,
    flag_key: &str,
    evaluation_context: &EvaluationContext,
    asked: &str,
    read: impl FnOnce(&serde_json::Value) -> Option<T>,
) -> EvaluationResult<ResolutionDetails<T>> {
    let resolution = provider
        .client
        .resolve(flag_key, &context(evaluation_context))
        .map_err(|reason| {
            let (code, message) = match reason {
                Reason::NoData => (
                    EvaluationErrorCode::ProviderNotReady,
                    "no flags loaded yet".to_owned(),
                ),
                _ => (
                    EvaluationErrorCode::FlagNotFound,
                    format!("no flag has the key {flag_key:?}"),
                ),
            };
            EvaluationError {
                code,
                message: Some(message),
            }
        })?;
    let Some(value) = read(&resolution.value) else {
        return Err(EvaluationError {
            code: EvaluationErrorCode::TypeMismatch,
            message: Some(format!(
                "flag {flag_key:?} serves a {}, not a {asked}",
                switchyard_core::rule::json_type(&resolution.value)
            )),
        });
    };
    let mut metadata = FlagMetadata::default()
        .with_value("reason", resolution.decision.reason.as_str())
        .with_value("version", resolution.decision.version.unwrap_or(0) as i64);
    if let Some(rule) = resolution.rule {
        metadata = metadata.with_value("rule", rule);
    }
    Ok(ResolutionDetails {
        value,
        variant: Some(resolution.variant),
        reason: Some(reason(resolution.reason)),
        flag_metadata: Some(metadata),
    })
}

/// A JSON value as an OpenFeature one (numbers as integers when they are).
fn of_value(value: &serde_json::Value) -> Option<Value> {
    Some(match value {
        serde_json::Value::Null => return None,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64()?),
        },
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => {
            Value::Array(items.iter().filter_map(of_value).collect())
        }
        serde_json::Value::Object(fields) => Value::Struct(of_struct(fields)),
    })
}

fn of_struct(fields: &serde_json::Map<String, serde_json::Value>) -> StructValue {
    StructValue {
        fields: fields
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), of_value(v)?)))
            .collect(),
    }
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
        resolve(self, flag_key, evaluation_context, "boolean", |v| {
            v.as_bool()
        })
    }

    async fn resolve_int_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        resolve(self, flag_key, evaluation_context, "integer", |v| {
            v.as_i64()
        })
    }

    async fn resolve_float_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        resolve(self, flag_key, evaluation_context, "number", |v| v.as_f64())
    }

    async fn resolve_string_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        resolve(self, flag_key, evaluation_context, "string", |v| {
            v.as_str().map(str::to_owned)
        })
    }

    async fn resolve_struct_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        resolve(self, flag_key, evaluation_context, "object", |v| {
            v.as_object().map(of_struct)
        })
    }
}
