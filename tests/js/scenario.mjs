// One service group of AWS SDK for JavaScript v3 calls against a lakestack endpoint, over one
// transport; prints the results as one JSON object on stdout (driven by
// tests/integration/test_js_sdk.py).
//
//   node scenario.mjs <group> <transport>
//
// group:      s3 | sts | kinesis | athena | glue | lambda
// transport:  h1 (HTTP/1.1, NodeHttpHandler) | h2 (HTTP/2, NodeHttp2Handler: h2c with prior
//             knowledge against http://, ALPN h2 against https://)
// env:        LAKESTACK_ENDPOINT  http(s)://127.0.0.1:<port>
//             LAKESTACK_CA        PEM file the TLS client trusts (lakestack's <home>/tls/ca.pem);
//                                 certificate verification is never turned off
//             AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION  (the SDK's own env provider)
//             SCENARIO_PARAMS     JSON: resource names and inputs for the group
//
// On failure it prints {"error": {...}} naming the step and the SDK's error, and exits 1.

import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { NodeHttp2Handler, NodeHttpHandler } from "@smithy/node-http-handler";
import {
  CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
} from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import {
  CreateStreamCommand, DescribeStreamConsumerCommand, DescribeStreamSummaryCommand, GetRecordsCommand,
  GetShardIteratorCommand, KinesisClient, PutRecordsCommand, RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
} from "@aws-sdk/client-kinesis";
import {
  AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import { CreateDatabaseCommand, CreateTableCommand, GetTableCommand, GlueClient } from "@aws-sdk/client-glue";
import {
  CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, LambdaClient,
} from "@aws-sdk/client-lambda";

const [group, transport] = process.argv.slice(2);
const endpoint = process.env.LAKESTACK_ENDPOINT;
const params = JSON.parse(process.env.SCENARIO_PARAMS || "{}");
const ca = process.env.LAKESTACK_CA ? readFileSync(process.env.LAKESTACK_CA) : undefined;
const REQUEST_TIMEOUT_MS = 30_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const clients = [];
let currentStep = "setup";

function requestHandler() {
  if (transport === "h2") {
    return new NodeHttp2Handler({
      requestTimeout: REQUEST_TIMEOUT_MS,
      sessionTimeout: REQUEST_TIMEOUT_MS,
      nodeHttp2ConnectOptions: ca ? { ca } : {},
    });
  }
  if (transport === "h1") {
    return new NodeHttpHandler({
      requestTimeout: REQUEST_TIMEOUT_MS,
      httpAgent: new http.Agent({ keepAlive: true }),
      httpsAgent: new https.Agent({ keepAlive: true, ca }),
    });
  }
  throw new Error(`unknown transport ${transport}`);
}

function client(Client, extra = {}) {
  const made = new Client({ endpoint, requestHandler: requestHandler(), maxAttempts: 1, ...extra });
  clients.push(made);
  return made;
}

async function step(name, fn) {
  currentStep = name;
  return await fn();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(name, fn, done, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await step(name, fn);
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${name}: gave up waiting, last answer ${JSON.stringify(value)}`);
    await sleep(50);
  }
}

const groups = {
  async s3() {
    const s3 = client(S3Client, { forcePathStyle: true });
    const { bucket } = params;
    const binary = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7) % 256);
    await step("CreateBucket", () => s3.send(new CreateBucketCommand({ Bucket: bucket })));
    const put = await step("PutObject text", () => s3.send(new PutObjectCommand({
      Bucket: bucket, Key: "docs/hello.txt", Body: "hello from the JS SDK", ContentType: "text/plain",
      Metadata: { origin: "js" },
    })));
    await step("PutObject binary", () => s3.send(new PutObjectCommand({
      Bucket: bucket, Key: "docs/binary.bin", Body: binary,
    })));
    await step("PutObject doomed", () => s3.send(new PutObjectCommand({
      Bucket: bucket, Key: "docs/doomed.txt", Body: "delete me",
    })));
    const got = await step("GetObject text", () => s3.send(new GetObjectCommand({ Bucket: bucket, Key: "docs/hello.txt" })));
    const text = await step("GetObject text body", () => got.Body.transformToString());
    const gotBinary = await step("GetObject binary", () => s3.send(new GetObjectCommand({
      Bucket: bucket, Key: "docs/binary.bin",
    })));
    const binaryBack = await step("GetObject binary body", () => gotBinary.Body.transformToByteArray());
    const listed = await step("ListObjectsV2", () => s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "docs/" })));
    await step("DeleteObject", () => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "docs/doomed.txt" })));
    const after = await step("ListObjectsV2 after delete", () => s3.send(new ListObjectsV2Command({ Bucket: bucket })));
    return {
      put_etag: put.ETag,
      text,
      content_type: got.ContentType,
      metadata: got.Metadata,
      content_length: got.ContentLength,
      binary_equal: binaryBack.length === binary.length && binaryBack.every((b, i) => b === binary[i]),
      listed: listed.Contents.map((o) => ({ key: o.Key, size: o.Size })),
      key_count: listed.KeyCount,
      after_delete: (after.Contents || []).map((o) => o.Key),
    };
  },

  async sts() {
    const sts = client(STSClient);
    const identity = await step("GetCallerIdentity", () => sts.send(new GetCallerIdentityCommand({})));
    return { account: identity.Account, arn: identity.Arn, user_id: identity.UserId };
  },

  async kinesis() {
    const kinesis = client(KinesisClient);
    const { stream, consumer } = params;
    await step("CreateStream", () => kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 })));
    const summary = await until("DescribeStreamSummary",
      () => kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream })),
      (r) => r.StreamDescriptionSummary.StreamStatus === "ACTIVE");
    const streamArn = summary.StreamDescriptionSummary.StreamARN;
    const data = ["first", "second", "third"];
    const put = await step("PutRecords", () => kinesis.send(new PutRecordsCommand({
      StreamName: stream, Records: data.map((d) => ({ Data: encoder.encode(d), PartitionKey: "p" })),
    })));
    const shardId = put.Records[0].ShardId;
    const iterator = await step("GetShardIterator", () => kinesis.send(new GetShardIteratorCommand({
      StreamName: stream, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON",
    })));
    const records = await step("GetRecords", () => kinesis.send(new GetRecordsCommand({
      ShardIterator: iterator.ShardIterator,
    })));
    const registered = await step("RegisterStreamConsumer", () => kinesis.send(new RegisterStreamConsumerCommand({
      StreamARN: streamArn, ConsumerName: consumer,
    })));
    const consumerArn = registered.Consumer.ConsumerARN;
    await until("DescribeStreamConsumer",
      () => kinesis.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerArn })),
      (r) => r.ConsumerDescription.ConsumerStatus === "ACTIVE");
    const abort = new AbortController();
    const subscribed = await step("SubscribeToShard", () => kinesis.send(new SubscribeToShardCommand({
      ConsumerARN: consumerArn, ShardId: shardId, StartingPosition: { Type: "TRIM_HORIZON" },
    }), { abortSignal: abort.signal }));
    const events = [];
    const pushed = [];
    await step("SubscribeToShard events", async () => {
      for await (const event of subscribed.EventStream) {
        const shardEvent = event.SubscribeToShardEvent;
        if (!shardEvent) throw new Error(`unexpected event ${JSON.stringify(Object.keys(event))}`);
        events.push({ records: shardEvent.Records.length, millis_behind: shardEvent.MillisBehindLatest,
          continuation: shardEvent.ContinuationSequenceNumber });
        for (const r of shardEvent.Records) {
          pushed.push({ data: decoder.decode(r.Data), sequence: r.SequenceNumber, key: r.PartitionKey });
        }
        if (pushed.length >= data.length) break;
      }
      if (pushed.length < data.length) {
        throw new Error(`the event stream ended after ${events.length} events carrying ${pushed.length} of `
          + `${data.length} records`);
      }
    });
    abort.abort();
    return {
      stream_arn: streamArn,
      shard_id: shardId,
      failed: put.FailedRecordCount,
      put_sequences: put.Records.map((r) => r.SequenceNumber),
      get_records: records.Records.map((r) => ({ data: decoder.decode(r.Data), sequence: r.SequenceNumber })),
      consumer_arn: consumerArn,
      subscribed: pushed,
      events,
    };
  },

  async athena() {
    const athena = client(AthenaClient);
    const started = await step("StartQueryExecution", () => athena.send(new StartQueryExecutionCommand({
      QueryString: "SELECT 1", ResultConfiguration: { OutputLocation: params.output },
    })));
    const id = started.QueryExecutionId;
    const execution = await until("GetQueryExecution",
      () => athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id })),
      (r) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(r.QueryExecution.Status.State));
    const results = await step("GetQueryResults", () => athena.send(new GetQueryResultsCommand({ QueryExecutionId: id })));
    return {
      id,
      state: execution.QueryExecution.Status.State,
      reason: execution.QueryExecution.Status.StateChangeReason,
      submitted: execution.QueryExecution.Status.SubmissionDateTime?.toISOString(),
      output_location: execution.QueryExecution.ResultConfiguration?.OutputLocation,
      rows: results.ResultSet.Rows.map((row) => row.Data.map((d) => d.VarCharValue)),
      columns: results.ResultSet.ResultSetMetadata.ColumnInfo.map((c) => ({ name: c.Name, type: c.Type })),
    };
  },

  async glue() {
    const glue = client(GlueClient);
    const { database, table, location } = params;
    await step("CreateDatabase", () => glue.send(new CreateDatabaseCommand({
      DatabaseInput: { Name: database, Description: "made by the JS SDK" },
    })));
    await step("CreateTable", () => glue.send(new CreateTableCommand({
      DatabaseName: database,
      TableInput: {
        Name: table,
        TableType: "EXTERNAL_TABLE",
        Parameters: { classification: "parquet" },
        PartitionKeys: [{ Name: "day", Type: "string" }],
        StorageDescriptor: {
          Columns: [{ Name: "id", Type: "bigint" }, { Name: "name", Type: "string", Comment: "who" }],
          Location: location,
          InputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
          OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
          SerdeInfo: { SerializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe" },
        },
      },
    })));
    const got = await step("GetTable", () => glue.send(new GetTableCommand({ DatabaseName: database, Name: table })));
    const t = got.Table;
    return {
      name: t.Name,
      database: t.DatabaseName,
      table_type: t.TableType,
      create_time_is_date: t.CreateTime instanceof Date && !Number.isNaN(t.CreateTime.getTime()),
      columns: t.StorageDescriptor.Columns.map((c) => [c.Name, c.Type]),
      partition_keys: t.PartitionKeys.map((c) => [c.Name, c.Type]),
      location: t.StorageDescriptor.Location,
      parameters: t.Parameters,
    };
  },

  async lambda() {
    const lambda = client(LambdaClient);
    const { function_name: name, role, zip } = params;
    const created = await step("CreateFunction", () => lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: "python3.12", Role: role, Handler: "app.handler",
      Code: { ZipFile: readFileSync(zip) }, Timeout: 30,
    })));
    await until("GetFunctionConfiguration",
      () => lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name })),
      (r) => r.State === "Active", 60_000);
    const invoked = await step("Invoke", () => lambda.send(new InvokeCommand({
      FunctionName: name, Payload: encoder.encode(JSON.stringify({ from: "js", transport })),
    })));
    return {
      function_arn: created.FunctionArn,
      status_code: invoked.StatusCode,
      function_error: invoked.FunctionError ?? null,
      executed_version: invoked.ExecutedVersion,
      payload: JSON.parse(decoder.decode(invoked.Payload)),
    };
  },
};

function describe(error) {
  return {
    step: currentStep,
    name: error?.name,
    message: error?.message,
    code: error?.code ?? error?.Code,
    cause: error?.cause ? String(error.cause) : undefined,
    http_status: error?.$metadata?.httpStatusCode,
    response: error?.$response ? {
      status: error.$response.statusCode,
      headers: error.$response.headers,
      body: typeof error.$response.body === "string" ? error.$response.body : undefined,
    } : undefined,
    stack: error?.stack,
  };
}

const watchdog = setTimeout(() => {
  process.stdout.write(JSON.stringify({ error: { step: currentStep, message: "scenario timed out" } }) + "\n");
  process.exit(2);
}, 90_000);

let exitCode = 0;
try {
  if (!groups[group]) throw new Error(`unknown group ${group}`);
  const result = await groups[group]();
  process.stdout.write(JSON.stringify({ result }) + "\n");
} catch (error) {
  process.stdout.write(JSON.stringify({ error: describe(error) }) + "\n");
  exitCode = 1;
} finally {
  clearTimeout(watchdog);
  for (const c of clients) c.destroy();
}
process.exit(exitCode);
