using System.CommandLine;
using Pipeline.OrderService.Configuration;

namespace Pipeline.OrderService.Cli;

/// <summary>The <c>healthcheck</c> verb: asks the replica on this host whether it is ready (its own <c>/health/ready</c>), so
/// a container checks itself without curl. Exit 0 when ready, 1 with one line saying why otherwise.</summary>
internal static class HealthcheckVerb
{
    public static Command Command(string[] settings)
    {
        var timeout = CliOptions.Int("--timeout", "seconds to wait for the answer", 5, 1, 60);
        var command = Verbs.Verb("healthcheck", "Exit 0 when the replica on this host is ready (its own /health/ready), 1 with the reason otherwise.");
        command.Options.Add(timeout);
        command.SetAction((parse, cancellationToken) => RunAsync(settings, TimeSpan.FromSeconds(parse.GetValue(timeout)), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string[] settings, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var readiness = HttpEndpoint.LocalReadiness(Verbs.Configuration(settings));
        using var handler = new HttpClientHandler
        {
            // The replica's own endpoint on loopback: whatever certificate it serves is its own.
            ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator,
        };
        using var http = new HttpClient(handler) { Timeout = timeout };
        try
        {
            using var response = await http.GetAsync(readiness, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                Console.WriteLine($"ready ({readiness})");
                return 0;
            }

            Console.WriteLine($"not ready ({(int)response.StatusCode}): {await response.Content.ReadAsStringAsync(cancellationToken)}");
            return 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Console.WriteLine($"not ready: {readiness} does not answer ({ex.Message})");
            return 1;
        }
    }
}
