//! HTTP route matching as Spin's HTTP trigger does it: exact routes,
//! `:name` parameters, a trailing `/...` wildcard, an application `base`,
//! and the most specific route winning when several match.

use std::collections::BTreeMap;

/// A route table; `T` is what a route leads to (a component id, an index).
#[derive(Debug, Clone)]
pub struct Router<T> {
    routes: Vec<Route<T>>,
}

#[derive(Debug, Clone)]
struct Route<T> {
    /// The route with the base, as written (`/base/api/...`).
    full: String,
    /// The route as in the manifest (`/api/...`).
    raw: String,
    segments: Vec<Segment>,
    wildcard: bool,
    target: T,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// A successful match and what Spin tells the component about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a, T> {
    pub target: &'a T,
    /// `spin-matched-route`: the route with the base, as written.
    pub matched_route: &'a str,
    /// `spin-raw-component-route`: the route as in the manifest.
    pub raw_component_route: &'a str,
    /// `spin-component-route`: the manifest route without the `/...`.
    pub component_route: &'a str,
    /// `spin-path-info`: what the wildcard matched (with a leading `/`), or
    /// empty for exact routes.
    pub path_info: String,
    /// `:name` parameters, by name.
    pub params: BTreeMap<String, String>,
}

impl<T> Router<T> {
    /// Builds a router; `base` is the application's `/base` (or `/`).
    pub fn new(base: &str, routes: impl IntoIterator<Item = (String, T)>) -> Self {
        let base = base.trim_end_matches('/');
        let routes = routes
            .into_iter()
            .map(|(raw, target)| {
                let full = format!("{base}{raw}");
                let wildcard = full == "/..." || full.ends_with("/...");
                let fixed = if wildcard {
                    &full[..full.len() - 3]
                } else {
                    full.as_str()
                };
                let segments = split(fixed)
                    .map(|s| match s.strip_prefix(':') {
                        Some(name) => Segment::Param(name.to_string()),
                        None => Segment::Literal(s.to_string()),
                    })
                    .collect();
                Route {
                    full,
                    raw,
                    segments,
                    wildcard,
                    target,
                }
            })
            .collect();
        Self { routes }
    }

    /// The most specific route matching `path` (no query string).
    pub fn find(&self, path: &str) -> Option<RouteMatch<'_, T>> {
        let request: Vec<&str> = split(path).collect();
        self.routes
            .iter()
            .filter_map(|route| route.matches(&request).map(|m| (route, m)))
            .max_by_key(|(route, _)| route.specificity())
            .map(|(route, (params, rest))| {
                let path_info = if route.wildcard {
                    rest.iter().map(|s| format!("/{s}")).collect()
                } else {
                    String::new()
                };
                RouteMatch {
                    target: &route.target,
                    matched_route: &route.full,
                    raw_component_route: &route.raw,
                    component_route: route.raw.strip_suffix("/...").unwrap_or(&route.raw),
                    path_info,
                    params,
                }
            })
    }
}

impl<T> Route<T> {
    #[allow(clippy::type_complexity)]
    fn matches<'p>(&self, request: &[&'p str]) -> Option<(BTreeMap<String, String>, Vec<&'p str>)> {
        if request.len() < self.segments.len()
            || (!self.wildcard && request.len() != self.segments.len())
        {
            return None;
        }
        let mut params = BTreeMap::new();
        for (segment, actual) in self.segments.iter().zip(request) {
            match segment {
                Segment::Literal(l) if l == actual => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => {
                    params.insert(name.clone(), (*actual).to_string());
                }
            }
        }
        Some((params, request[self.segments.len()..].to_vec()))
    }

    /// Exact beats wildcard; then more segments; then more literal segments.
    fn specificity(&self) -> (bool, usize, usize) {
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        (!self.wildcard, self.segments.len(), literals)
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router<&'static str> {
        Router::new(
            "/",
            [
                ("/api/v1/health".to_string(), "health"),
                ("/api/v1/workspaces/:id".to_string(), "workspace"),
                ("/api/v1/workspaces/:id/users/:user".to_string(), "user"),
                ("/api/...".to_string(), "api"),
                ("/...".to_string(), "web"),
            ],
        )
    }

    #[test]
    fn exact_route_beats_wildcards() {
        let r = router();
        let m = r.find("/api/v1/health").unwrap();
        assert_eq!(*m.target, "health");
        assert_eq!(m.path_info, "");
        assert_eq!(m.component_route, "/api/v1/health");
    }

    #[test]
    fn parameters_are_captured_by_name() {
        let r = router();
        let m = r.find("/api/v1/workspaces/w1/users/u9").unwrap();
        assert_eq!(*m.target, "user");
        assert_eq!(m.params["id"], "w1");
        assert_eq!(m.params["user"], "u9");
    }

    #[test]
    fn longer_wildcard_prefix_wins_and_reports_path_info() {
        let r = router();
        let m = r.find("/api/v2/things/3").unwrap();
        assert_eq!(*m.target, "api");
        assert_eq!(m.path_info, "/v2/things/3");
        assert_eq!(m.matched_route, "/api/...");
        assert_eq!(m.component_route, "/api");
        let m = r.find("/api").unwrap();
        assert_eq!(*m.target, "api");
        assert_eq!(m.path_info, "");
        let m = r.find("/index.html").unwrap();
        assert_eq!(*m.target, "web");
        assert_eq!(m.path_info, "/index.html");
    }

    #[test]
    fn exact_route_does_not_match_longer_paths() {
        let r = Router::new("/", [("/a".to_string(), 1)]);
        assert!(r.find("/a/b").is_none());
        assert!(r.find("/").is_none());
        assert!(r.find("/a/").is_some());
    }

    #[test]
    fn base_prefixes_every_route() {
        let r = Router::new("/app/", [("/x/...".to_string(), 1)]);
        let m = r.find("/app/x/y").unwrap();
        assert_eq!(m.matched_route, "/app/x/...");
        assert_eq!(m.raw_component_route, "/x/...");
        assert_eq!(m.path_info, "/y");
        assert!(r.find("/x/y").is_none());
    }
}
