using System.Reflection;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Pipeline.Inventory.Commit;
using Pipeline.OrderService.Configuration;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.OrderService.Telemetry;

/// <summary>
/// The replica's OpenTelemetry: one resource (<c>service.name</c>, <c>service.version</c>, <c>service.instance.id</c> = the
/// node id), traces from MassTransit, Npgsql, ASP.NET Core and the service's own sources, metrics from the service's meters,
/// MassTransit, Npgsql, ASP.NET Core and the runtime, scraped at <c>/metrics</c>. Traces, and metrics too, go over OTLP when
/// an endpoint is configured: <c>OpenTelemetry:Otlp:Endpoint</c>, or else the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>
/// (with its companions <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>_HEADERS</c>); without either there is no tracer provider
/// (no span is made) and only <c>/metrics</c> is served.
/// </summary>
public static class TelemetrySetup
{
    public const string ServiceName = "pipeline-order-service";

    /// <summary>The setting that points traces and metrics at an OTLP collector (an http or https URI).</summary>
    public const string OtlpEndpointSetting = "OpenTelemetry:Otlp:Endpoint";

    /// <summary>The standard variable the OTLP exporter reads when the setting is absent.</summary>
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>Every activity source whose spans a replica exports.</summary>
    public static IReadOnlyList<string> ActivitySources { get; } =
        ["MassTransit", PipelineTracing.SourceName, InventoryTracing.SourceName, ElectionTracing.SourceName];

    /// <summary>Every meter of the service's own and of its libraries (runtime, ASP.NET Core and Npgsql come with their instrumentation).</summary>
    public static IReadOnlyList<string> Meters { get; } =
        [PipelineMetrics.MeterName, "MassTransit", ZooKeeperMetrics.MeterName, "Pipeline.Election"];

    /// <summary>Paths whose requests are not traced: the scraper's and the probes' polling, many times a minute.</summary>
    private static readonly string[] UntracedPaths = ["/metrics", "/health"];

    public static IServiceCollection AddPipelineTelemetry(this IServiceCollection services, IConfiguration configuration, PipelineOptions pipeline)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(pipeline);
        var otlp = OtlpEndpoint(configuration);

        // What a tracer provider listens to, for whichever one is built: ours when OTLP is configured, or one a host of the
        // replica adds (a test's in-memory exporter). Without one no span is created at all, so a replica that exports no
        // traces pays nothing for them.
        services.ConfigureOpenTelemetryTracerProvider(tracing => tracing
            .AddSource([.. ActivitySources])
            .AddNpgsql()
            .AddAspNetCoreInstrumentation(o => o.Filter = http => !UntracedPaths.Any(p => http.Request.Path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase))));
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(ServiceName, serviceVersion: Version, autoGenerateServiceInstanceId: false, serviceInstanceId: pipeline.NodeId));
        if (otlp.Enabled)
        {
            telemetry.WithTracing(tracing => AddOtlp(tracing, otlp));
        }

        telemetry.WithMetrics(metrics =>
            {
                metrics.AddMeter([.. Meters])
                    .AddNpgsqlInstrumentation()
                    .AddAspNetCoreInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddPrometheusExporter();
                AddOtlp(metrics, otlp);
            });
        return services;
    }

    /// <summary>The OTLP endpoint: the setting, else the standard variable, else none (no OTLP export).</summary>
    internal static OtlpTarget OtlpEndpoint(IConfiguration configuration)
    {
        if (configuration[OtlpEndpointSetting] is { Length: > 0 } setting)
        {
            return Uri.TryCreate(setting, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
                ? new OtlpTarget(uri)
                : throw new InvalidOperationException($"{OtlpEndpointSetting} must be an http or https URI such as http://collector:4317.");
        }

        return configuration[OtlpEndpointVariable] is { Length: > 0 } ? new OtlpTarget(null) : OtlpTarget.None;
    }

    private static void AddOtlp(TracerProviderBuilder tracing, OtlpTarget target) => tracing.AddOtlpExporter(o => target.Apply(o, "v1/traces"));

    private static void AddOtlp(MeterProviderBuilder metrics, OtlpTarget target)
    {
        if (target.Enabled)
        {
            metrics.AddOtlpExporter(o => target.Apply(o, "v1/metrics"));
        }
    }

    private static string Version =>
        typeof(TelemetrySetup).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(TelemetrySetup).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>Where OTLP goes: <see cref="Endpoint"/> from the setting, or the exporter's own reading of the standard
    /// variables (null endpoint), or nowhere.</summary>
    internal sealed record OtlpTarget(Uri? Endpoint, bool Enabled = true)
    {
        public static OtlpTarget None { get; } = new(null, false);

        /// <summary>Sets the endpoint: as given for gRPC (the default protocol); for http/protobuf
        /// (<c>OTEL_EXPORTER_OTLP_PROTOCOL</c>) with the signal's path appended, as the exporter does for the standard variable.</summary>
        public void Apply(OpenTelemetry.Exporter.OtlpExporterOptions options, string signalPath)
        {
            ArgumentNullException.ThrowIfNull(options);
            if (Endpoint is null)
            {
                return;
            }

            options.Endpoint = options.Protocol == OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf
                ? new Uri(Endpoint, Endpoint.AbsolutePath.TrimEnd('/') + "/" + signalPath)
                : Endpoint;
        }
    }
}
