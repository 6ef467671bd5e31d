// Leaving the console for a Stripe page (Checkout, the customer portal); an object so tests can replace it.
export const browserNavigation = {
  assign(url: string): void {
    window.location.assign(url);
  },
};
