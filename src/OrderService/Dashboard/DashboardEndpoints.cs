using System.Collections.Frozen;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Microsoft.Net.Http.Headers;

namespace Pipeline.OrderService.Dashboard;

/// <summary>The live dashboard: the page at <c>/</c> and its assets (embedded in the service: nothing is fetched from
/// elsewhere), its snapshot as JSON at <c>/dashboard/state</c> and as a server-sent event stream at
/// <c>/dashboard/events</c>, one snapshot a second.</summary>
public static class DashboardEndpoints
{
    /// <summary>How often a watching page gets a snapshot.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    private static readonly FrozenDictionary<string, Asset> Assets = LoadAssets();

    public static IServiceCollection AddPipelineDashboard(this IServiceCollection services)
    {
        services.AddSingleton<ClusterActivitySampler>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterActivitySampler>());
        services.AddSingleton<DashboardSnapshots>();
        return services;
    }

    public static void MapPipelineDashboard(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/", (HttpContext context) => Serve(context, "index.html"));
        app.MapGet("/dashboard/{file}", (HttpContext context, string file) => Serve(context, file));
        app.MapGet("/dashboard/state", (DashboardSnapshots snapshots, CancellationToken cancellationToken) => snapshots.BuildAsync(cancellationToken));
        app.MapGet("/dashboard/events", (DashboardSnapshots snapshots, IHostApplicationLifetime lifetime, HttpContext context) =>
            TypedResults.ServerSentEvents(StreamAsync(snapshots, lifetime, context.RequestAborted)));
    }

    /// <summary>A snapshot every <see cref="Period"/> until the page goes or the service stops: an open stream must not
    /// hold up a graceful stop (and with it the handover to the successor).</summary>
    private static async IAsyncEnumerable<SseItem<DashboardSnapshot>> StreamAsync(DashboardSnapshots snapshots, IHostApplicationLifetime lifetime,
        [EnumeratorCancellation] CancellationToken requestAborted)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, lifetime.ApplicationStopping);
        using var timer = new PeriodicTimer(Period);
        while (!stop.IsCancellationRequested)
        {
            DashboardSnapshot snapshot;
            try
            {
                snapshot = await snapshots.BuildAsync(stop.Token);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                yield break;
            }

            yield return new SseItem<DashboardSnapshot>(snapshot, "snapshot") { ReconnectionInterval = TimeSpan.FromSeconds(2) };
            try
            {
                await timer.WaitForNextTickAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
        }
    }

    private static IResult Serve(HttpContext context, string file)
    {
        if (!Assets.TryGetValue(file, out var asset))
        {
            return Results.NotFound();
        }

        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        if (context.Request.Headers.IfNoneMatch == asset.ETag.ToString())
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        context.Response.Headers.ETag = asset.ETag.ToString();
        return Results.Bytes(asset.Content, asset.ContentType);
    }

    private sealed record Asset(byte[] Content, string ContentType, EntityTagHeaderValue ETag);

    private static FrozenDictionary<string, Asset> LoadAssets()
    {
        const string prefix = "dashboard/";
        var assembly = typeof(DashboardEndpoints).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var content = copy.ToArray();
            var type = Path.GetExtension(name) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            var etag = new EntityTagHeaderValue($"\"{Convert.ToHexString(SHA256.HashData(content))[..16]}\"");
            assets[name[prefix.Length..]] = new Asset(content, type, etag);
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
