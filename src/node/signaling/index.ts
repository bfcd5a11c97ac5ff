/**
 * The signaling / bootstrap server (Node only): `startSignalingServer` runs a DHT node reachable
 * over UDP and over WebSocket; `WsServerTransport` is its WebSocket end, usable with any `ws`
 * WebSocketServer. The browser end is WsClientTransport (src/transport/ws-client.ts).
 */
export { startSignalingServer } from './server.js';
export type { SignalingServer, SignalingServerOptions, SignalingServerStats } from './server.js';
export {
  WsServerTransport,
  DEFAULT_WS_SERVER_LIMITS,
  WS_MAX_PAYLOAD,
  wsServerOptions,
} from './ws-server-transport.js';
export type {
  SignalingLogEntry,
  SignalingLogger,
  WsServerLimits,
  WsServerStats,
  WsServerTransportOptions,
  WsServerSocket,
  WsServerOptionsSubset,
} from './ws-server-transport.js';
export {
  WsClientTransport,
  WsCloseCode,
  WsLinkError,
  WS_HELLO_TAG,
  WS_PROTOCOL_VERSION,
  wsAddress,
  wsHelloMessage,
} from '../../transport/ws-client.js';
export type { WebSocketConstructor, WebSocketLike, WsClientConnectOptions, WsClientStats, WsCloseInfo } from '../../transport/ws-client.js';
