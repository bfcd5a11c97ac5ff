/**
 * Structural stand-ins for the few browser (lib.dom) types that appear in public signatures. The
 * published declarations use these, so a consumer compiles them without the DOM lib (a Node
 * project typically has `lib: ["ES2022"]` and checks libraries with `skipLibCheck: false`). The
 * browser's own objects fit each one; the code behind them uses the full lib.dom types.
 */

/** An ICE server (lib.dom's RTCIceServer): STUN or TURN. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** What the WebCrypto backend calls on a SubtleCrypto (`crypto.subtle`, in browsers and Node). */
export interface SubtleCryptoLike {
  importKey(...args: never[]): Promise<unknown>;
  sign(...args: never[]): Promise<ArrayBuffer>;
  verify(...args: never[]): Promise<boolean>;
}

/** An IndexedDB factory (lib.dom's IDBFactory: `indexedDB`, or a test double). */
export interface IdbFactoryLike {
  open(name: string, version?: number): unknown;
}

/** The part of lib.dom's Storage (sessionStorage) used to remember a tab's identity slot. */
export interface SessionStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** lib.dom's LockManager (`navigator.locks`), as far as identity slots use it. */
export interface LockManagerLike {
  request(name: string, options: object, callback: (lock: unknown) => unknown): Promise<unknown>;
}

/** Where pagehide / pageshow arrive (lib.dom's EventTarget: `globalThis` in a page). */
export interface PageEventsLike {
  addEventListener(type: string, listener: (event: unknown) => void): void;
  removeEventListener(type: string, listener: (event: unknown) => void): void;
}

