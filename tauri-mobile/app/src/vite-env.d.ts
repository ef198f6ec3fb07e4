/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Server URL prefilled in the sign-in form. */
  readonly VITE_CHATSYNC_SERVER_URL?: string
  /** Token prefilled in the sign-in form. */
  readonly VITE_CHATSYNC_TOKEN?: string
  /** Migration bridge phase (1, 2 or 3). */
  readonly VITE_CHATSYNC_CACHE_PHASE?: string
}
