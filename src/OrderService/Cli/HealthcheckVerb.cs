using Pipeline.OrderService.Configuration;

namespace Pipeline.OrderService.Cli;

/// <summary>The <c>healthcheck</c> verb: asks the replica on this host whether it is ready (its own <c>/health/ready</c>), so
/// a container checks itself without curl. Exit 0 when ready, 1 with one line saying why otherwise.</summary>
internal static class HealthcheckVerb
{
    public static async Task<int> RunAsync(CommandLine options, string[] args)
    {
        var readiness = HttpEndpoint.LocalReadiness(Verbs.Configuration(args));
        var timeout = TimeSpan.FromSeconds(options.GetInt("timeout", 5, 1, 60));
        using var handler = new HttpClientHandler
        {
            // The replica's own endpoint on loopback: whatever certificate it serves is its own.
            ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
        };
        using var http = new HttpClient(handler) { Timeout = timeout };
        try
        {
            using var response = await http.GetAsync(readiness);
            if (response.IsSuccessStatusCode)
            {
                Console.WriteLine($"ready ({readiness})");
                return 0;
            }

            Console.WriteLine($"not ready ({(int)response.StatusCode}): {await response.Content.ReadAsStringAsync()}");
            return 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Console.WriteLine($"not ready: {readiness} does not answer ({ex.Message})");
            return 1;
        }
    }
}
