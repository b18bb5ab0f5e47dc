import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config";
import { privateAddress, refuseUrl } from "../../src/lib/net";
import { newWebhookSecret, signWebhook } from "../../src/lib/webhook-signature";

describe("webhook signatures", () => {
  it("match what the standardwebhooks package computes and verifies", async () => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({
      id: "evt_1",
      type: "document.ready",
      created_at: "2026-12-01T00:00:00.000Z",
      data: {},
    });
    const timestamp = Math.floor(Date.now() / 1000);
    const ours = await signWebhook(secret, "evt_1", timestamp, body);
    const theirs = new Webhook(secret).sign("evt_1", new Date(timestamp * 1000), body);
    expect(ours).toBe(theirs);
    const headers = { "webhook-id": "evt_1", "webhook-timestamp": String(timestamp), "webhook-signature": ours };
    expect(new Webhook(secret).verify(body, headers)).toMatchObject({ id: "evt_1" });
  });
});

describe("outbound address safety", () => {
  it("tells public addresses from private, loopback, link-local, CGNAT, mapped and reserved ones", () => {
    for (const address of [
      "93.184.216.34",
      "8.8.8.8",
      "2606:4700:4700::1111",
      "2001:4860:4860::8888",
      // Public IPv4 inside IPv6: mapped, NAT64, 6to4.
      "::ffff:8.8.8.8",
      "64:ff9b::808:808",
      "2002:0808:0808::1",
    ]) {
      expect({ address, private: privateAddress(address) }).toEqual({ address, private: false });
    }
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.31.255.255",
      "192.168.0.1",
      "169.254.169.254",
      "100.100.100.100",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "::1",
      "::",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "64:ff9b::a00:1",
      "fd00::1",
      "fc00::1",
      "fe80::1",
      "ff02::1",
      "2001:db8::1",
      "2002:0a00:0001::1",
      "::127.0.0.1",
      "198.18.0.1",
      "0177.0.0.1",
      "not-an-address",
    ]) {
      expect({ address, private: privateAddress(address) }).toEqual({ address, private: true });
    }
  });

  it("allows plain https to a named host on 443 only, unless the operator allows a port", () => {
    const policy = { allowedPorts: [], allowLoopback: false };
    expect(refuseUrl("https://hooks.example.com/x", policy)).toBeUndefined();
    expect(refuseUrl("https://hooks.example.com:8443/x", policy)).toBe("must use port 443");
    expect(refuseUrl("https://hooks.example.com:8443/x", { ...policy, allowedPorts: [8443] })).toBeUndefined();
    expect(refuseUrl("http://127.0.0.1:9/x", policy)).toBe("must use https");
    expect(refuseUrl("http://127.0.0.1:9/x", { ...policy, allowLoopback: true })).toBeUndefined();
  });

  it("defaults to Svix's schedule: eight attempts over more than 24 hours", () => {
    const { webhooks } = parseConfig({});
    expect(webhooks.retryScheduleS).toEqual([0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(webhooks.retryScheduleS.reduce((a, b) => a + b, 0)).toBeGreaterThan(24 * 3600);
    expect(webhooks.timeoutMs).toBe(15_000);
    expect(webhooks.allowLoopback).toBe(false);
  });
});
