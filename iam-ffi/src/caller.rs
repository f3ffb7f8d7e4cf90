//! Who asks, for functions that take an `actor_token`: NULL is the embedding application
//! itself; anything else is an access token that iam verifies and then authorizes.

use iam_core::{Clock, Iam, Principal, Store};

/// The verified principal of `token`, or `None` for the embedding application.
pub(crate) async fn acting<S: Store, C: Clock>(
    iam: &Iam<S, C>,
    token: Option<&str>,
) -> Result<Option<Principal>, iam_core::Error> {
    match token {
        Some(t) => Ok(Some(iam.verify(t).await?)),
        None => Ok(None),
    }
}
