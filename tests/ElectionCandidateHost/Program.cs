using System.Globalization;
using Pipeline.ZooKeeper.Recipes;

// usage: Pipeline.ElectionCandidateHost <connect-string> <election-path> <node-id> <session-timeout-ms>
// Prints one line per leadership change ("LEADER <token>", "CANDIDATE", ...) and runs until killed or stdin closes.
if (args.Length != 4)
{
    Console.Error.WriteLine("usage: Pipeline.ElectionCandidateHost <connect-string> <election-path> <node-id> <session-timeout-ms>");
    return 2;
}

await using var candidate = new ElectionCandidate(new ElectionCandidateOptions
{
    ConnectString = args[0],
    ElectionPath = args[1],
    NodeId = args[2],
    SessionTimeout = TimeSpan.FromMilliseconds(int.Parse(args[3], CultureInfo.InvariantCulture)),
});
candidate.Start();
var stdinClosed = Task.Run(() => Console.In.ReadToEnd());
await foreach (var change in candidate.WatchChangesAsync())
{
    Console.WriteLine(change.State == ElectionState.Leader ? $"LEADER {change.Lease!.Token}" : change.State.ToString().ToUpperInvariant());
    if (stdinClosed.IsCompleted)
    {
        break;
    }
}

return 0;
