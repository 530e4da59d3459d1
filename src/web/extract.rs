//! Extractors for who makes the request: [`CurrentUser`], `Option<CurrentUser>` and
//! [`AdminUser`]. They reuse the identity the guard resolved, or resolve it themselves when
//! mounted without the guard. Their rejection sends a browser to the sign-in page (or shows
//! the 403 page) and answers the API in the `responseStatus` shape. (What the request
//! carries, path, query, body, is extracted by `request::extract`.)

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::Error;
use crate::identity::{CurrentUser, Identity};
use crate::request::facts::wants_html;
use crate::request::paths::sign_in_url;
use crate::state::AuthState;

/// Why the current user could not be extracted.
#[derive(Debug)]
pub enum AuthRejection {
    /// Nobody is signed in: pages redirect to the sign-in page, the API answers 401.
    SignInRequired {
        /// Whether the client asked for a page.
        wants_html: bool,
        /// The path and query to come back to.
        next: String,
    },
    /// Signed in but not an admin.
    NotAdmin {
        /// Whether the client asked for a page.
        wants_html: bool,
        /// Who asked (shown in the 403 page's header).
        user: Box<CurrentUser>,
    },
    /// Resolving the identity failed (a broken store, for example).
    Failed(Error),
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            Self::SignInRequired {
                wants_html: true,
                next,
            } => Redirect::to(&sign_in_url(&next)).into_response(),
            Self::SignInRequired { .. } => Error::Unauthorized.into_response(),
            Self::NotAdmin {
                wants_html: true,
                user,
            } => (
                StatusCode::FORBIDDEN,
                crate::views::forbidden_page(Some(&user)),
            )
                .into_response(),
            Self::NotAdmin { .. } => Error::Forbidden("Admin role required".into()).into_response(),
            Self::Failed(err) => err.into_response(),
        }
    }
}

/// The identity of the request: from the guard layer when it ran, else resolved now.
pub async fn identity(auth: &AuthState, parts: &mut Parts) -> Result<Identity, Error> {
    resolved_identity(auth, parts).await.cloned()
}

/// The identity of the request, kept in its extensions (resolved now if the guard has
/// not): the guard reads it there without a copy.
pub(super) async fn resolved_identity<'p>(
    auth: &AuthState,
    parts: &'p mut Parts,
) -> Result<&'p Identity, Error> {
    if parts.extensions.get::<Identity>().is_none() {
        let identity = auth.identify(parts).await?;
        parts.extensions.insert(identity);
    }
    parts
        .extensions
        .get::<Identity>()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("the identity was not kept")))
}

fn path_and_query(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned())
}

/// The user who makes the request, kept in its extensions ([`resolved_identity`]), or the
/// rejection of a request nobody signed in to: what the [`CurrentUser`] extractor gives,
/// without a copy, for the handler that only reads it.
pub(super) async fn signed_in_user<'p>(
    auth: &AuthState,
    parts: &'p mut Parts,
) -> Result<&'p CurrentUser, AuthRejection> {
    resolved_identity(auth, parts)
        .await
        .map_err(AuthRejection::Failed)?;
    // Looked up again, without the `&mut` the resolving needed: a borrow from it could
    // not be returned from one arm while the other reads the request.
    let parts: &'p Parts = parts;
    match parts.extensions.get::<Identity>() {
        Some(Identity::User(user)) => Ok(user),
        Some(Identity::Anonymous) => Err(AuthRejection::SignInRequired {
            wants_html: wants_html(&parts.method, &parts.headers),
            next: path_and_query(parts),
        }),
        None => Err(AuthRejection::Failed(Error::Internal(anyhow::anyhow!(
            "the identity was not kept"
        )))),
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = AuthState::from_ref(state);
        signed_in_user(&auth, parts).await.cloned()
    }
}

impl<S> OptionalFromRequestParts<S> for CurrentUser
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let auth = AuthState::from_ref(state);
        match identity(&auth, parts)
            .await
            .map_err(AuthRejection::Failed)?
        {
            Identity::User(user) => Ok(Some(user)),
            Identity::Anonymous => Ok(None),
        }
    }
}

/// A signed-in user with the Admin role.
#[derive(Debug, Clone)]
pub struct AdminUser(pub CurrentUser);

impl<S> FromRequestParts<S> for AdminUser
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = <CurrentUser as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if user.is_admin() {
            Ok(Self(user))
        } else {
            Err(AuthRejection::NotAdmin {
                wants_html: wants_html(&parts.method, &parts.headers),
                user: Box::new(user),
            })
        }
    }
}
