//! The plugin host: driving plugins, applying their outputs, and PeerConnection events.

use std::time::Instant;

use serde_json::{Map, Value};

use super::ControlPlane;
use super::janus::apply_jsep_flags;
use crate::api::response::{handle_event, message};
use crate::media::{CloseReason, HangupReason, Jsep, PeerEvent};
use crate::plugin::{MediaCommand, PluginInput, PluginOutput};
use crate::{HandleId, SessionId};

impl ControlPlane {
    /// A PeerConnection event for `handle`, reported by the media side: produces the client
    /// event with Janus's shape (`webrtcup`, `media`, `slowlink`, `hangup`, `trickle`) and
    /// forwards it to the handle's plugin. Events for unknown (detached, destroyed) handles
    /// are dropped, which gives Janus's "no hangup on detach/destroy" rule.
    pub fn handle_peer_event(&mut self, now: Instant, handle: HandleId, event: PeerEvent) {
        let Some(h) = self.reg.handles.get_mut(&handle) else {
            return;
        };
        let (sid, plugin) = (h.session, h.plugin);
        let json = match &event {
            PeerEvent::WebrtcUp => {
                if h.rtc.ready {
                    return; // once per PeerConnection
                }
                h.rtc.ready = true;
                self.handle_event_json("webrtcup", sid, handle)
            }
            PeerEvent::Media {
                mid,
                kind,
                substream,
                receiving,
            } => {
                let mut m = self.handle_event_json("media", sid, handle);
                m.insert("mid".into(), mid.as_str().into());
                m.insert("type".into(), kind.as_str().into());
                if let Some(s) = substream {
                    m.insert("substream".into(), (*s).into());
                }
                m.insert("receiving".into(), (*receiving).into());
                if !receiving && self.status.no_media_timer > 1 {
                    m.insert("seconds".into(), self.status.no_media_timer.into());
                }
                m
            }
            PeerEvent::SlowLink {
                mid,
                kind,
                uplink,
                lost,
            } => {
                let mut m = self.handle_event_json("slowlink", sid, handle);
                m.insert("mid".into(), mid.as_str().into());
                m.insert("media".into(), kind.as_str().into());
                m.insert("uplink".into(), (*uplink).into());
                m.insert("lost".into(), (*lost).into());
                m
            }
            PeerEvent::Hangup { reason } => {
                self.webrtc_hangup(now, handle, reason.clone());
                return;
            }
            PeerEvent::LocalCandidate { candidate } => {
                let mut m = self.handle_event_json("trickle", sid, handle);
                let c = candidate
                    .clone()
                    .unwrap_or_else(|| serde_json::json!({"completed": true}));
                m.insert("candidate".into(), c);
                self.emit(sid, m);
                return;
            }
        };
        self.emit(sid, json);
        self.drive(now, plugin, PluginInput::Peer { handle, event });
    }

    /// Janus `janus_ice_webrtc_hangup`: at most one `hangup` per PeerConnection, none without
    /// one. The media side is told to close, the client gets `hangup`, the plugin
    /// `Peer { Hangup }`.
    pub(super) fn webrtc_hangup(&mut self, now: Instant, hid: HandleId, reason: HangupReason) {
        let Some(h) = self.reg.handles.get_mut(&hid) else {
            return;
        };
        if !h.rtc.has_pc || h.rtc.alert {
            return;
        }
        let rtc = &mut h.rtc;
        rtc.alert = true;
        rtc.has_pc = false;
        rtc.ready = false;
        rtc.got_offer = false;
        rtc.got_answer = false;
        rtc.negotiated = false;
        let (sid, plugin) = (h.session, h.plugin);
        self.media
            .handle_close(now, hid, CloseReason::Hangup(reason.clone()));
        let mut json = self.handle_event_json("hangup", sid, hid);
        json.insert("reason".into(), reason.as_str().into());
        self.emit(sid, json);
        self.drive(
            now,
            plugin,
            PluginInput::Peer {
                handle: hid,
                event: PeerEvent::Hangup { reason },
            },
        );
    }

    /// Remove a handle: close its PeerConnection without `hangup`, tell the plugin, and send
    /// `detached` when `notify` (detach, plugin `EndHandle`; not on session destroy).
    pub(super) fn teardown_handle(&mut self, now: Instant, hid: HandleId, notify: bool) {
        let detached = notify
            .then(|| self.reg.handles.get(&hid).map(|h| h.session))
            .flatten()
            .map(|sid| {
                let json = self.handle_event_json("detached", sid, hid);
                (sid, json)
            });
        let Some(h) = self.reg.remove_handle(hid) else {
            return;
        };
        self.metrics.handles_detached += 1;
        if h.rtc.has_pc {
            self.media.handle_close(now, hid, CloseReason::Detach);
        }
        self.drive(now, h.plugin, PluginInput::Detach { handle: hid });
        if let Some((sid, json)) = detached {
            self.emit(sid, json);
        }
    }

    /// Feed one input to a plugin and drain it. Events, PeerConnection closes and handle ends
    /// are applied at once; the outputs that answer the input are returned.
    pub(super) fn drive(
        &mut self,
        now: Instant,
        plugin: usize,
        input: PluginInput,
    ) -> Vec<PluginOutput> {
        let Some(slot) = self.plugins.get_mut(plugin) else {
            return Vec::new();
        };
        slot.plugin.handle(now, input);
        self.drain(now, plugin)
    }

    /// Applies what every plugin produced on its own before any input (Streaming's
    /// configured mountpoints open their RTP inputs this way). Call once the media engine is
    /// in place.
    pub fn start_plugins(&mut self, now: Instant) {
        for plugin in 0..self.plugins.len() {
            for output in self.drain(now, plugin) {
                tracing::debug!(plugin, ?output, "plugin output before any request, dropped");
            }
        }
    }

    /// Drains a plugin's outputs: events, PeerConnection closes, handle ends and media
    /// intents are applied at once; the outputs that answer an input are returned.
    fn drain(&mut self, now: Instant, plugin: usize) -> Vec<PluginOutput> {
        let Some(slot) = self.plugins.get_mut(plugin) else {
            return Vec::new();
        };
        let mut outputs = Vec::new();
        while let Some(o) = slot.plugin.poll() {
            outputs.push(o);
        }
        let mut scoped = Vec::new();
        for o in outputs {
            match o {
                PluginOutput::Event { .. }
                | PluginOutput::ClosePeerConnection { .. }
                | PluginOutput::EndHandle { .. } => {
                    self.apply_plugin_output(now, plugin, o);
                }
                PluginOutput::Media(command) => self.apply_media_command(now, plugin, command),
                other => scoped.push(other),
            }
        }
        scoped
    }

    /// A data-channel message from the peer of `handle`, for its plugin (Janus's
    /// `incoming_data`). Dropped for unknown handles.
    pub fn handle_data(
        &mut self,
        now: Instant,
        handle: HandleId,
        label: Option<String>,
        binary: bool,
        data: Vec<u8>,
    ) {
        let Some(plugin) = self.reg.handles.get(&handle).map(|h| h.plugin) else {
            return;
        };
        let input = PluginInput::Data {
            handle,
            label,
            binary,
            data,
        };
        for output in self.drive(now, plugin, input) {
            tracing::debug!(
                handle = handle.0,
                ?output,
                "unexpected plugin output for data, dropped"
            );
        }
    }

    /// Audio levels measured on `handle`'s m-line `mid` (see [`PluginInput::AudioLevel`]),
    /// for the plugin that owns the handle.
    pub fn handle_audio_level(
        &mut self,
        now: Instant,
        handle: HandleId,
        mid: String,
        packets: u32,
        level_sum: u32,
    ) {
        let input = PluginInput::AudioLevel {
            handle,
            mid,
            packets,
            level_sum,
        };
        self.feed_media_report(now, handle, input);
    }

    /// A simulcast layer change on `handle`'s m-line `mid` (see
    /// [`PluginInput::LayerChanged`]), for the plugin that owns the handle.
    pub fn handle_layer_changed(
        &mut self,
        now: Instant,
        handle: HandleId,
        mid: String,
        substream: u8,
        temporal: u8,
    ) {
        let input = PluginInput::LayerChanged {
            handle,
            mid,
            substream,
            temporal,
        };
        self.feed_media_report(now, handle, input);
    }

    /// Feeds a media-side report to the plugin owning `handle`; nothing answers it.
    fn feed_media_report(&mut self, now: Instant, handle: HandleId, input: PluginInput) {
        let Some(plugin) = self.reg.handles.get(&handle).map(|h| h.plugin) else {
            return;
        };
        for output in self.drive(now, plugin, input) {
            tracing::debug!(
                handle = handle.0,
                ?output,
                "unexpected plugin output for a media report, dropped"
            );
        }
    }

    /// Passes a plugin's media intent to the media engine when every handle it names belongs
    /// to that plugin (a plugin cannot steer another plugin's PeerConnections).
    fn apply_media_command(&mut self, now: Instant, plugin: usize, command: MediaCommand) {
        let owned = |h: &HandleId| self.reg.handles.get(h).is_some_and(|x| x.plugin == plugin);
        let allowed = match &command {
            MediaCommand::Forward { from, to, .. } => owned(from) && owned(to),
            MediaCommand::Unforward { to, .. }
            | MediaCommand::ForwardMountpoint { to, .. }
            | MediaCommand::SetSending { to, .. }
            | MediaCommand::SetLayers { to, .. } => owned(to),
            MediaCommand::SetBitrateCap { handle, .. }
            | MediaCommand::RequestKeyframe { handle, .. }
            | MediaCommand::SendData { handle, .. }
            | MediaCommand::JoinMix { handle, .. }
            | MediaCommand::UpdateMix { handle, .. }
            | MediaCommand::LeaveMix { handle } => owned(handle),
            MediaCommand::RtpForward { from, .. } => owned(from),
            // Commands that name no handle (forwarders by id, mountpoints) are the plugin's own.
            _ => true,
        };
        if allowed {
            self.media.handle_media_command(now, command);
        } else {
            tracing::debug!(
                plugin,
                ?command,
                "media command for a handle the plugin does not own, dropped"
            );
        }
    }

    /// Tick plugins whose timer is due.
    pub(super) fn run_plugin_timers(&mut self, now: Instant) {
        for i in 0..self.plugins.len() {
            if self.plugins[i]
                .plugin
                .poll_timeout()
                .is_some_and(|t| t <= now)
            {
                self.drive(now, i, PluginInput::Timeout);
            }
        }
    }

    fn apply_plugin_output(&mut self, now: Instant, plugin: usize, o: PluginOutput) {
        let handle = match &o {
            PluginOutput::Event { handle, .. }
            | PluginOutput::ClosePeerConnection { handle }
            | PluginOutput::EndHandle { handle } => *handle,
            _ => return,
        };
        let Some(h) = self.reg.handles.get(&handle).filter(|h| h.plugin == plugin) else {
            tracing::debug!(
                handle = handle.0,
                "plugin output for a handle it does not own, dropped"
            );
            return;
        };
        let sid = h.session;
        match o {
            PluginOutput::Event {
                transaction,
                data,
                jsep,
                ..
            } => {
                self.plugin_event(now, sid, handle, plugin, transaction, data, jsep);
            }
            PluginOutput::ClosePeerConnection { .. } => {
                self.webrtc_hangup(now, handle, HangupReason::ClosePc)
            }
            PluginOutput::EndHandle { .. } => self.teardown_handle(now, handle, true),
            _ => {}
        }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one call site; the pieces of a Janus event"
    )]
    fn plugin_event(
        &mut self,
        now: Instant,
        sid: SessionId,
        hid: HandleId,
        plugin: usize,
        transaction: Option<String>,
        data: Value,
        jsep: Option<Jsep>,
    ) {
        let jsep_json = match jsep {
            None => None,
            Some(j) => match self.process_local_jsep(now, hid, &j) {
                Some(v) => Some(v),
                // Janus does not send the event when the merge fails.
                None => return,
            },
        };
        let mut m = message("event", sid.0, transaction.as_deref());
        m.insert("sender".into(), hid.0.into());
        self.insert_opaque_id(&mut m, hid);
        m.insert("plugindata".into(), self.plugindata(plugin, data));
        if let Some(j) = jsep_json {
            m.insert("jsep".into(), j);
        }
        self.emit(sid, m);
    }

    /// Run a plugin JSEP through the media engine; `None` if it refused.
    fn process_local_jsep(&mut self, now: Instant, hid: HandleId, jsep: &Jsep) -> Option<Value> {
        if let Err(e) = crate::media::check_sdp(&jsep.sdp) {
            tracing::warn!(handle = hid.0, error = %e, "plugin SDP rejected, event not sent");
            return None;
        }
        let merged = match self.media.handle_local_jsep(now, hid, jsep) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(handle = hid.0, error = %e, "plugin JSEP refused by the media engine, event not sent");
                return None;
            }
        };
        let h = self.reg.handles.get_mut(&hid)?;
        apply_jsep_flags(&mut h.rtc, jsep.kind);
        h.rtc.e2ee |= jsep.e2ee;
        h.rtc.local_sdp = Some(merged.sdp.clone());
        let mut j = Map::new();
        j.insert("type".into(), merged.kind.as_str().into());
        j.insert("sdp".into(), merged.sdp.into());
        if h.rtc.e2ee {
            j.insert("e2ee".into(), true.into());
        }
        Some(Value::Object(j))
    }

    fn handle_event_json(&self, kind: &str, sid: SessionId, hid: HandleId) -> Map<String, Value> {
        let opaque = if self.config.general.opaqueid_in_api {
            self.reg
                .handles
                .get(&hid)
                .and_then(|h| h.opaque_id.as_deref())
        } else {
            None
        };
        handle_event(kind, sid.0, hid.0, opaque)
    }
}
