// A scripted gRPC server for unit tests, written against node:http2 directly so
// that the bytes on the wire (the length-prefixed message, grpc-status, the
// grpc-status-details-bin trailer) are built here by hand, not by Connect.
// Listens on 127.0.0.1, port 0.

import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { StatusSchema } from "../src/gen/google/rpc/status_pb.js";
import { TokenRequestSchema, TokenSchema } from "../src/gen/livetokens/v1/token_service_pb.js";
import type { TokenRequest } from "../src/gen/livetokens/v1/token_service_pb.js";

/** What the fake answers to one call. */
export type FakeReply =
  | { readonly token: MessageInitShape<typeof TokenSchema> }
  | {
      readonly code: number;
      readonly message: string;
      /** Serialized into grpc-status-details-bin when set. */
      readonly status?: MessageInitShape<typeof StatusSchema>;
      /** Extra trailers, e.g. grpc-retry-pushback-ms. */
      readonly trailers?: Readonly<Record<string, string>>;
    };

/** One call the fake received. */
export interface FakeCall {
  readonly path: string;
  readonly request: TokenRequest;
  readonly grpcTimeout: string | undefined;
}

/** A running fake server. */
export interface FakeServer {
  readonly target: string;
  readonly calls: FakeCall[];
  close(): Promise<void>;
}

/** Starts a fake TokenService whose n-th call (0-based) gets `replies[n]` (the last one repeats). */
export async function startFakeServer(replies: readonly FakeReply[]): Promise<FakeServer> {
  const calls: FakeCall[] = [];
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  server.on("stream", (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const body = Buffer.concat(chunks);
      const request = fromBinary(TokenRequestSchema, body.subarray(5));
      const timeout = headers["grpc-timeout"];
      calls.push({ path: String(headers[":path"]), request, grpcTimeout: typeof timeout === "string" ? timeout : undefined });
      const reply = replies[Math.min(calls.length - 1, replies.length - 1)];
      if (reply === undefined) {
        throw new Error("startFakeServer needs at least one reply");
      }
      if ("token" in reply) {
        const payload = toBinary(TokenSchema, create(TokenSchema, reply.token));
        const frame = Buffer.alloc(5 + payload.length);
        frame.writeUInt32BE(payload.length, 1);
        frame.set(payload, 5);
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end(frame);
        return;
      }
      // A trailers-only response, as grpc servers send for errors.
      const trailers: http2.OutgoingHttpHeaders = {
        ":status": 200,
        "content-type": "application/grpc",
        "grpc-status": String(reply.code),
        "grpc-message": encodeURIComponent(reply.message),
        ...reply.trailers,
      };
      if (reply.status !== undefined) {
        trailers["grpc-status-details-bin"] = Buffer.from(toBinary(StatusSchema, create(StatusSchema, reply.status)))
          .toString("base64")
          .replace(/=+$/, "");
      }
      stream.respond(trailers, { endStream: true });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) {
          s.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
