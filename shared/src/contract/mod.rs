//! The contract between the framework and a remediation: what a function supplies (how to
//! find its cases, check one, act on it), and what the framework answers.

use std::future::Future;
use std::time::SystemTime;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

mod error;

pub use error::{IntakeError, Unavailable, VerifyError};

use crate::console::Link;
use crate::events::{Principal, Trigger};
use crate::framework::Framework;
use crate::history::HistoryError;
use crate::notify::Severity;
use crate::safeguard::Safeguard;

/// One resource to remediate, found in an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Case<T> {
    /// The resource's id, as history and notifications name it.
    pub resource: String,
    pub target: T,
}

/// What an event asks of a function.
#[derive(Debug, Clone, PartialEq)]
pub enum Intake<T> {
    Cases(Vec<Case<T>>),
    /// Some of what the event names are cases; the others are not, and why (instances that
    /// do not exist, screened out in one read).
    Some {
        cases: Vec<Case<T>>,
        skipped: String,
    },
    /// Nothing in this event concerns the function, and why.
    Ignore(String),
}

/// What the live state says about a case.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict<S> {
    Act(Subject<S>),
    NothingToDo(String),
    AlreadyRemediated(String),
    /// The resource is as it should be, and `known_good` is what history keeps of it (a
    /// trail's configuration); the remediation writes it in its record stage.
    Healthy {
        reason: String,
        known_good: Value,
    },
    /// The resource is exempt: nothing is done and a human is told.
    Exempt(String),
    /// Nothing is to be done, but a person should know (an offense below the threshold).
    Notice {
        severity: Severity,
        headline: String,
        detail: String,
        facts: Value,
    },
}

/// A live resource to act on, with what history keeps about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject<S> {
    pub subject: S,
    /// The state before any change: enough to undo it.
    pub before: Value,
    /// One line that tells a person what this resource is.
    pub summary: String,
    /// What acting will do, step by step (what a dry run reports).
    pub plan: Vec<String>,
    /// How a person undoes the action, once the investigation allows.
    pub undo: Vec<String>,
    /// What a person should check first once it is done: containment starts an
    /// investigation, it does not end one.
    pub next_steps: Vec<String>,
    /// Where the resource and its context are in the console.
    pub links: Vec<Link>,
}

/// The outcome of one step of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// Wakes a human: failed, it leaves the incident dangerous; done, what it reports must be
    /// seen now (someone turned Tourniquet off).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub critical: bool,
    /// What this step kept for the investigation (snapshot ids), listed in the next steps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

impl Step {
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            critical: false,
            evidence: Vec::new(),
        }
    }
    pub fn failed(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            critical: false,
            evidence: Vec::new(),
        }
    }
    pub fn critical(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            critical: true,
            ..Self::failed(name, detail)
        }
    }
    /// Done, and it pages: what it reports must be seen now, whatever else was put right.
    pub fn alarm(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            critical: true,
            ..Self::ok(name, detail)
        }
    }
    /// The step kept `id` as evidence.
    pub fn with_evidence(mut self, id: impl Into<String>) -> Self {
        self.evidence.push(id.into());
        self
    }
}

/// What the framework knows of the invocation, handed to the remediation.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub framework: &'a Framework,
    pub trigger: &'a Trigger,
    pub delivery_id: &'a str,
    /// The delivery that opened the incident this case belongs to: the same as
    /// `delivery_id`, except when an open incident is resumed. Evidence is tagged with it.
    pub incident: &'a str,
    /// Who caused the event, when CloudTrail says.
    pub actor: Option<&'a Principal>,
    pub dry_run: bool,
    pub now: SystemTime,
    /// When the invocation is killed, if the runtime says.
    pub deadline: Option<SystemTime>,
}

/// A countermeasure, plugged into the pipeline.
pub trait Remediation: Sync {
    /// What a case is about, beyond its resource id. Kept in history with an open incident,
    /// so that a sweep can resume the incident without the event.
    type Target: Serialize + DeserializeOwned + Send + Sync;
    type Subject: Send + Sync;

    /// The verb, in history, notifications and metrics (`isolate`).
    fn action(&self) -> &'static str;
    /// The verb's past tense, for headlines (`isolated`).
    fn done(&self) -> &'static str;
    /// Whether a protected principal behind the event stops the action (true when the
    /// action counters what the principal did; false when the event is a request, like a
    /// `Tainted` tag, that anyone may make).
    fn counters_actor(&self) -> bool;
    fn safeguard(&self) -> Option<&Safeguard>;
    /// Whether the function acts in member accounts: their events pass the gate (a listed
    /// account whose member role can be assumed). One that acts in its own account only
    /// sees every event, and must tell another account's apart itself.
    fn acts_in_members(&self) -> bool {
        true
    }
    /// Whether an event asks for containment or reports tampering: refused (an account
    /// Tourniquet may not act in), it pages. Every event but a schedule, by default.
    fn threatening(&self, trigger: &Trigger) -> bool {
        !matches!(trigger, Trigger::Scheduled(_) | Trigger::Sweep)
    }
    /// The cases in an event. Malformed parameters are an error; irrelevant ones an
    /// `Ignore`. May read AWS (a scheduled audit lists what to audit), never change it.
    fn intake(
        &self,
        trigger: &Trigger,
    ) -> impl Future<Output = Result<Intake<Self::Target>, IntakeError>> + Send;
    /// Checks a case against the live state. Reads only: every write has its own stage.
    fn verify(
        &self,
        ctx: &Context<'_>,
        case: &Case<Self::Target>,
    ) -> impl Future<Output = Result<Verdict<Self::Subject>, VerifyError>> + Send;
    /// The record stage's own writes for this delivery, whatever becomes of the incident (an
    /// offense counted, a healthy baseline kept). Runs once the incident lock is decided and
    /// before anything is changed; a failure makes the delivery retried.
    fn record(
        &self,
        _ctx: &Context<'_>,
        _case: &Case<Self::Target>,
        _verdict: &Verdict<Self::Subject>,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send {
        async { Ok(()) }
    }
    /// Whether the live state already looks remediated. Only believed together with
    /// Tourniquet's own history of this resource, never alone: a tag or a name can be forged.
    fn settled(&self, _subject: &Self::Subject) -> Option<String> {
        None
    }
    /// Whether acting on this subject is safe with no history at all: idempotent and only
    /// ever restoring (restarting a stopped trail). Such an action is taken even when the
    /// history table cannot be reached, and a human is woken because nothing was recorded.
    fn safe_without_history(&self, _subject: &Self::Subject) -> bool {
        false
    }
    /// The live state of an incident left open by an invocation that died, to finish it:
    /// `before` is the state recorded when it opened, the only one to undo to. By default
    /// the case is checked again, with that recorded state kept.
    fn resume(
        &self,
        ctx: &Context<'_>,
        case: &Case<Self::Target>,
        before: &Value,
    ) -> impl Future<Output = Result<Verdict<Self::Subject>, VerifyError>> + Send {
        async move {
            let mut verdict = self.verify(ctx, case).await?;
            if let Verdict::Act(subject) = &mut verdict {
                subject.before = before.clone();
            }
            Ok(verdict)
        }
    }
    /// Work done ahead of time on the periodic sweep, off the critical path of every
    /// incident (isolate-instance prepares each VPC's quarantine groups). Never in a dry run.
    /// A critical step wakes a human; every step is in the sweep's answer.
    fn upkeep(&self, _ctx: &Context<'_>) -> impl Future<Output = Vec<Step>> + Send {
        async { Vec::new() }
    }
    /// Carries out the action. Independent steps run concurrently; a failing step does not
    /// stop the others that are still safe. Acting again on a resource half done must be
    /// safe: a resumed incident acts on what the live state still needs.
    fn act(
        &self,
        ctx: &Context<'_>,
        case: &Case<Self::Target>,
        subject: &Self::Subject,
    ) -> impl Future<Output = Vec<Step>> + Send;
}

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    Remediated {
        steps: Vec<Step>,
    },
    Partial {
        steps: Vec<Step>,
    },
    DryRun {
        plan: Vec<String>,
    },
    Held {
        reason: String,
    },
    Exempt {
        reason: String,
    },
    Duplicate,
    /// Another trigger's incident for this resource is open: this one joined it.
    Joined {
        incident: String,
    },
    /// Time ran out before the action was confirmed: the incident stays open for the retry.
    Unfinished {
        not_confirmed: Vec<String>,
    },
    AlreadyRemediated {
        reason: String,
    },
    NothingToDo {
        reason: String,
    },
    Noticed {
        detail: String,
    },
    Unverified {
        error: String,
    },
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Remediated { .. } => "remediated",
            Self::Partial { .. } => "partial",
            Self::DryRun { .. } => "dry-run",
            Self::Held { .. } => "held",
            Self::Exempt { .. } => "exempt",
            Self::Duplicate => "duplicate",
            Self::Joined { .. } => "joined",
            Self::Unfinished { .. } => "unfinished",
            Self::AlreadyRemediated { .. } => "already-remediated",
            Self::NothingToDo { .. } => "nothing-to-do",
            Self::Noticed { .. } => "noticed",
            Self::Unverified { .. } => "unverified",
        }
    }
}

/// The report of one case, part of the invocation's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseReport {
    pub resource: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The incident was opened by an earlier invocation that died, and finished by this one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
    /// The severity of the notification sent, if one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notified: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_error: Option<String>,
}

/// The answer of a handled invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub function: &'static str,
    pub delivery_id: String,
    pub trigger: String,
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    pub cases: Vec<CaseReport>,
    /// What the sweep prepared ahead of time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub upkeep: Vec<Step>,
}

impl Summary {
    pub fn outcome_of(&self, resource: &str) -> Option<&Outcome> {
        self.cases
            .iter()
            .find(|c| c.resource == resource)
            .map(|c| &c.outcome)
    }
}
