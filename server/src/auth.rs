//! Who may call what (docs/api.md#tokens-and-roles): the `Auth<Role>` extractor admits a request only with role `R`
//! or higher — a handler states its role in its signature, so none can forget the check. The
//! token table itself is [`crate::tokens`].

use std::cell::RefCell;
use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::sync::Arc;

use actix_web::http::header::{self, HeaderName};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::error::ApiError;
use crate::state::AppState;

pub use crate::tokens::Caller;
pub use switchyard_core::Role;

/// A minimum role, as a type: `Auth<Editor>` admits editors and admins.
pub trait MinRole {
    /// The lowest role admitted.
    const ROLE: Role;
}

macro_rules! min_role {
    ($($name:ident => $role:expr),* $(,)?) => {$(
        #[doc = concat!("Admits the `", stringify!($name), "` role and above.")]
        pub struct $name;
        impl MinRole for $name {
            const ROLE: Role = $role;
        }
    )*};
}

min_role!(
    Sdk => Role::Sdk,
    Viewer => Role::Viewer,
    Responder => Role::Responder,
    Editor => Role::Editor,
    Admin => Role::Admin,
);

/// An authenticated caller with at least role `R`: no token → 401, too low a role → 403.
pub struct Auth<R>(pub Arc<Caller>, PhantomData<R>);

impl<R> Auth<R> {
    /// The caller.
    pub fn caller(&self) -> &Caller {
        &self.0
    }
}

/// OFREP's token header.
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// The token of a request: `Authorization: Bearer …`, or OFREP's `X-API-Key`. Read as bytes:
/// it is on every request, and only the token itself need be text.
fn presented_token(req: &HttpRequest) -> Option<&str> {
    let headers = req.headers();
    let token = match headers.get(header::AUTHORIZATION) {
        Some(value) => {
            let bytes = value.as_bytes();
            let space = bytes.iter().position(|&b| b == b' ')?;
            let (scheme, token) = bytes.split_at(space);
            if !scheme.eq_ignore_ascii_case(b"bearer") {
                return None;
            }
            token.trim_ascii()
        }
        None => headers.get(X_API_KEY)?.as_bytes(),
    };
    std::str::from_utf8(token).ok()
}

/// The token a connection last presented and whom it proved: an SDK on a kept-alive
/// connection sends the same token on every request, so it is hashed and checked against the
/// token table once per connection and token set, not once per request. One per connection
/// (put there by `app.rs`), so it only ever holds a token that connection itself sent; only a
/// token that verified is remembered, and a change to the token set (a revocation) makes it
/// verify again.
#[derive(Default)]
pub struct ConnectionToken(RefCell<Option<Remembered>>);

struct Remembered {
    token: Box<[u8]>,
    generation: u64,
    caller: Arc<Caller>,
}

/// The caller `token` belongs to, remembered on the connection when it has one.
fn verify(req: &HttpRequest, state: &AppState, token: &str) -> Option<Arc<Caller>> {
    use subtle::ConstantTimeEq;
    let memo = req.conn_data::<ConnectionToken>();
    let generation = state.tokens().generation();
    if let Some(memo) = memo
        && let Some(r) = memo.0.borrow().as_ref()
        && r.generation == generation
        && bool::from(r.token.ct_eq(token.as_bytes()))
    {
        return Some(r.caller.clone());
    }
    let caller = state.tokens().verify(token)?;
    if let Some(memo) = memo {
        *memo.0.borrow_mut() = Some(Remembered {
            token: token.as_bytes().into(),
            generation,
            caller: caller.clone(),
        });
    }
    Some(caller)
}

impl<R: MinRole> FromRequest for Auth<R> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Err(ApiError::Internal("app state missing".into())));
        };
        let caller = presented_token(req).and_then(|t| verify(req, state, t));
        ready(match caller {
            None => Err(ApiError::Unauthorized),
            Some(caller) if caller.role < R::ROLE => Err(ApiError::Forbidden {
                needed: R::ROLE,
                have: caller.role,
            }),
            Some(caller) => Ok(Auth(caller, PhantomData)),
        })
    }
}
