//! The ports tab: forwards of this sandbox's ports to this machine.
use crate::tui::msg::{Effect, NetEvent};
use crate::tui::state::forms::{Form, Popup};
use crate::tui::state::forwards::{self, parse_ports, Forward, ForwardState};
use crate::tui::state::State;

/// `a`: asks which port to forward.
pub fn add_forward(state: &mut State) {
    if state.detail.is_some() {
        state.popup = Some(Popup::Form(Form::forward()));
    }
}

/// The forward form was filled in: `8080` or `LOCAL:8080`.
pub fn start(state: &mut State, spec: &str, fx: &mut Vec<Effect>) -> Result<(), String> {
    let (local, remote) = parse_ports(spec)?;
    let sandbox_id = state
        .detail
        .as_ref()
        .map(|d| d.sandbox_id.clone())
        .ok_or("the detail screen is closed")?;
    let id = state.alloc_generation();
    state.forwards.push(Forward {
        id,
        sandbox_id: sandbox_id.clone(),
        remote,
        local,
        state: ForwardState::Starting,
        active: 0,
        total: 0,
    });
    fx.push(Effect::StartForward {
        id,
        sandbox_id,
        local,
        remote,
    });
    Ok(())
}

pub fn stop_forward(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(d) = state.detail.as_ref() else {
        return;
    };
    let Some(id) = forwards::of(&state.forwards, &d.sandbox_id)
        .nth(d.port_row)
        .map(|f| f.id)
    else {
        state.error("no forward selected (a adds one)");
        return;
    };
    state.forwards.retain(|f| f.id != id);
    fx.push(Effect::StopForward(id));
    if let Some(d) = state.detail.as_mut() {
        d.port_row = d.port_row.saturating_sub(1);
    }
    state.info("forward closed");
}

pub fn on_net(state: &mut State, ev: NetEvent) -> bool {
    let id = match &ev {
        NetEvent::ForwardListening { id, .. }
        | NetEvent::ForwardFailed { id, .. }
        | NetEvent::ForwardCounts { id, .. } => *id,
        _ => return false,
    };
    // A forward closed meanwhile: its last reports are dropped.
    let Some(f) = state.forwards.iter_mut().find(|f| f.id == id) else {
        return false;
    };
    match ev {
        NetEvent::ForwardListening { addr, tool, .. } => {
            f.state = ForwardState::Listening { addr, tool }
        }
        NetEvent::ForwardFailed { error, .. } => f.state = ForwardState::Failed(error),
        NetEvent::ForwardCounts { active, total, .. } => {
            f.active = active;
            f.total = total;
        }
        _ => {}
    }
    true
}
