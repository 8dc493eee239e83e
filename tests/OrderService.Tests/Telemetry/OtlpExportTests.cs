using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.OrderService.Commit;
using Pipeline.OrderService.Telemetry;
using Pipeline.Testing;

namespace Pipeline.OrderService.Tests.Telemetry;

/// <summary>A replica given <c>OpenTelemetry:Otlp:Endpoint</c> sends its spans and metrics there (OTLP over HTTP to a
/// receiver of the test's own), with its resource; without it, it builds no tracer provider at all.</summary>
public sealed class OtlpExportTests : IAsyncLifetime
{
    private readonly InProcessReplicas services = new();

    public Task InitializeAsync() => services.InitializeAsync();

    public Task DisposeAsync() => services.DisposeAsync();

    [Fact]
    public async Task A_replica_with_an_OTLP_endpoint_exports_its_spans_and_metrics_there()
    {
        using var receiver = new OtlpReceiver();
        var settings = new Dictionary<string, string>
        {
            [TelemetrySetup.OtlpEndpointSetting] = receiver.Address,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        };
        await using (var replica = services.Build("otlp-1", settings))
        {
            await replica.StartReadyAsync();
            var leadership = replica.Services.GetRequiredService<FencedLeadership>();
            await Eventually.TrueAsync(() => Task.FromResult(leadership.Current is { IsRevoked: false }), TracedReplica.Wait, "the replica to lead with the fence taken");
            await replica.StopAsync(); // the providers flush what they hold when the host is disposed
        }

        // OTLP's protobuf carries names and string attributes as plain UTF-8.
        var traces = await receiver.WaitForAsync("/v1/traces", "fence bump");
        Assert.Contains("pipeline-order-service", traces, StringComparison.Ordinal);
        Assert.Contains("otlp-1", traces, StringComparison.Ordinal);
        var metrics = await receiver.WaitForAsync("/v1/metrics", "pipeline.fence.acquisitions");
        Assert.Contains("zookeeper.client.requests", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_an_endpoint_no_tracer_provider_is_built()
    {
        var replica = services.Build("otlp-2");
        try
        {
            Assert.Null(replica.Services.GetService<OpenTelemetry.Trace.TracerProvider>());
        }
        finally
        {
            ((IDisposable)replica).Dispose();
        }
    }

    /// <summary>An OTLP/HTTP receiver on a free loopback port: every request body by path, answered 200.</summary>
    private sealed class OtlpReceiver : IDisposable
    {
        private readonly HttpListener listener = new();
        private readonly ConcurrentQueue<(string Path, string Body)> received = new();
        private readonly Task serving;

        public OtlpReceiver()
        {
            Address = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{FreePorts.Take(1)[0]}/");
            listener.Prefixes.Add(Address);
            listener.Start();
            serving = ServeAsync();
        }

        public string Address { get; }

        /// <summary>Every body posted to <paramref name="path"/> so far, once one of them contains <paramref name="text"/>.</summary>
        public async Task<string> WaitForAsync(string path, string text)
        {
            string All() => string.Join("\n", received.Where(r => r.Path == path).Select(r => r.Body));
            await Eventually.TrueAsync(() => Task.FromResult(All().Contains(text, StringComparison.Ordinal)), TracedReplica.Wait,
                $"an OTLP export to {path} naming {text} (received: {string.Join(", ", received.Select(r => r.Path))})");
            return All();
        }

        public void Dispose()
        {
            listener.Stop();
            listener.Close();
            _ = serving.Exception; // observed: it ends with the listener
        }

        private async Task ServeAsync()
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                received.Enqueue((context.Request.Url!.AbsolutePath, Encoding.UTF8.GetString(body.ToArray())));
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/x-protobuf";
                context.Response.Close();
            }
        }
    }
}
