import { MemoryRouter, Route } from '@solidjs/router'
import { render } from '@solidjs/testing-library'
import type { JSX } from 'solid-js'

/** Renders `view` inside a router (for components using `<A>`). */
export function renderRouted(view: () => JSX.Element) {
  return render(() => (
    <MemoryRouter>
      <Route path="*" component={view} />
    </MemoryRouter>
  ))
}

/** Lets pending promises and channel deliveries settle. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setTimeout(resolve, 0))
}
