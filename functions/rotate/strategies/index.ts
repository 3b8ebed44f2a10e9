import type { RotationConfig } from '../../../src/config/rotations.ts';
import type { RotationStrategy, StrategyContext } from '../strategy.ts';
import { generatedStrategy } from './generated.ts';
import { postgresAlternatingUsersStrategy, postgresSingleUserStrategy } from './postgres.ts';
import { redisAcl } from './redis.ts';

/** The strategy of one configured rotation. */
export function strategyFor(config: RotationConfig, context: StrategyContext): RotationStrategy {
  switch (config.strategy) {
    case 'generated':
      return generatedStrategy(config, context);
    case 'postgres-single-user':
      return postgresSingleUserStrategy(config, context);
    case 'postgres-alternating-users':
      return postgresAlternatingUsersStrategy(config, context);
    case 'redis-acl':
      return redisAcl(config, context);
  }
}
