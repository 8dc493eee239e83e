namespace Pipeline.ZooKeeper.Tests;

/// <summary>
/// Tests that assert a failover bound (500 ms after a close, a session timeout plus one second after kill -9) or depend on
/// timeouts firing in order. xunit runs this collection after all the parallel ones, alone, so no JVM start or fuzz loop
/// of another class competes for the two cores while they measure.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    public const string Name = "timing-sensitive";
}
