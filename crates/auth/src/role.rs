//! The roles of a workspace member or API key.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Supervisor,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Supervisor => "supervisor",
            Self::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "owner" => Self::Owner,
            "admin" => Self::Admin,
            "supervisor" => Self::Supervisor,
            "agent" => Self::Agent,
            _ => return None,
        })
    }

    /// Owners and admins manage members and keys.
    pub fn can_manage_members(self) -> bool {
        self >= Self::Admin
    }
}
